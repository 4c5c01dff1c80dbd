"""Code-review gate: enough distinct approvals, none by an author of the change.

Approvals come from `Reviewed-by:` / `Approved-by:` trailers on the release's commits (since the previous release
tag) and from review sign-offs recorded in cutover. Authors are every author and committer of those commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cutover.checks.git import git
from cutover.checks.result import Evidence, GateResult, failed, passed

TRAILER_KEYS = ("Reviewed-by", "Approved-by")
_PERSON = re.compile(r"^\s*(?P<name>[^<]*?)\s*(?:<(?P<email>[^>]+)>)?\s*$")


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    @property
    def key(self) -> str:
        return (self.email or self.name).strip().lower()

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name

    @classmethod
    def parse(cls, text: str) -> Person:
        match = _PERSON.match(text)
        if not match:
            return cls(text.strip(), "")
        return cls((match.group("name") or "").strip(), (match.group("email") or "").strip())


@dataclass(frozen=True)
class ReleaseCommits:
    commits: tuple[str, ...]
    authors: tuple[Person, ...]
    approvers: tuple[Person, ...]  # from trailers, in order of appearance, deduplicated


def release_commits(repo: Path, since: str | None) -> ReleaseCommits:
    """Authors and trailer approvers of the commits in `since..HEAD` (all of history when `since` is None)."""
    fmt = "%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%(trailers:key=Reviewed-by,key=Approved-by,valueonly,separator=%x1e)%x1d"
    rev_range = f"{since}..HEAD" if since else "HEAD"
    log = git(repo, "log", f"--format={fmt}", rev_range)
    if log.code != 0:
        raise ValueError(log.err.strip().splitlines()[0] if log.err.strip() else f"git log exited {log.code}")
    commits: list[str] = []
    authors: dict[str, Person] = {}
    approvers: dict[str, Person] = {}
    for record in log.out.split("\x1d"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) < 6:
            continue
        sha, an, ae, cn, ce, trailers = fields
        commits.append(sha)
        for person in (Person(an, ae), Person(cn, ce)):
            authors.setdefault(person.key, person)
        for value in trailers.split("\x1e"):
            if value.strip():
                person = Person.parse(value)
                approvers.setdefault(person.key, person)
    return ReleaseCommits(tuple(commits), tuple(authors.values()), tuple(approvers.values()))


def check_reviews(
    gate_id: str,
    title: str,
    repo: Path,
    *,
    since: str | None,
    min_approvals: int,
    signed_reviewers: tuple[Person, ...] = (),
    reviewer_not_author: bool = True,
) -> GateResult:
    try:
        release = release_commits(repo, since)
    except ValueError as exc:
        return failed(gate_id, title, f"cannot read the release's commits: {exc}")
    if not release.commits:
        return failed(gate_id, title, f"no commits since {since or 'the start of history'}: nothing to review")
    author_keys = {person.key for person in release.authors} | {p.name.strip().lower() for p in release.authors}
    counted: dict[str, Person] = {}
    rejected: list[Person] = []
    # Every name and email already counted: one person named as a trailer ("Alex <alex@x>") and as a sign-off
    # ("Alex", or "alex@x") is one approval.
    seen: set[str] = set()
    for person in (*release.approvers, *signed_reviewers):
        is_author = person.key in author_keys or person.name.strip().lower() in author_keys
        if reviewer_not_author and is_author:
            if person not in rejected:
                rejected.append(person)
            continue
        names = {value.strip().lower() for value in (person.key, person.name, person.email) if value.strip()}
        if not names & seen:
            counted.setdefault(person.key, person)
        seen |= names
    evidence = Evidence.json(
        "reviews.json",
        {
            "since": since,
            "commits": list(release.commits),
            "authors": [str(p) for p in release.authors],
            "approvals": [str(p) for p in counted.values()],
            "not_counted_authors": [str(p) for p in rejected],
            "min_approvals": min_approvals,
        },
    )
    scope = f"{len(release.commits)} commit(s) since {since}" if since else f"{len(release.commits)} commit(s)"
    names = ", ".join(str(p) for p in counted.values()) or "none"
    ignored = f"; not counted (authors of the change): {', '.join(str(p) for p in rejected)}" if rejected else ""
    if len(counted) >= min_approvals:
        return passed(gate_id, title, f"{len(counted)} approval(s) on {scope}: {names}{ignored}", evidence)
    return failed(
        gate_id,
        title,
        f"{len(counted)} of {min_approvals} required approval(s) on {scope} ({names}){ignored}; "
        "add Reviewed-by:/Approved-by: trailers or record review sign-offs",
        evidence,
    )
