"""A git repository of the Elaro example shaped like a real release, for tests, benchmarks and the demo.

History: `v2.9.0` (without what 3.0.0 adds: Governor_Limit_Snapshot__c and Compliance_Gap__c.Consent_Expires_On__c),
then the 3.0.0 release commit by the developer with `Reviewed-by:`/`Approved-by:` trailers, pushed to a bare
`origin` so "up to date with main" and `git merge-tree` are checked for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "elaro"

#: Untracked, machine-local folders never copied from the example.
_NOT_COPIED = ("node_modules", "coverage", ".cutover", ".sf", ".sfdx", "backups", "logs")

#: What v3.0.0 adds on top of v2.9.0 (paths relative to the project).
ADDED_IN_3_0_0 = (
    "force-app/main/default/objects/Governor_Limit_Snapshot__c",
    "force-app/main/default/objects/Compliance_Gap__c/fields/Consent_Expires_On__c.field-meta.xml",
)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


DEVELOPER = Identity("Dana Developer", "dana.developer@solentra.com")
REVIEWERS = (Identity("Alex Reviewer", "alex.reviewer@solentra.com"), Identity("Sam Secure", "sam.secure@solentra.com"))


def _git(repo: Path, *args: str, who: Identity = DEVELOPER) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who.name,
        "GIT_AUTHOR_EMAIL": who.email,
        "GIT_COMMITTER_NAME": who.name,
        "GIT_COMMITTER_EMAIL": who.email,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def commit_all(repo: Path, message: str, *, who: Identity = DEVELOPER, trailers: tuple[str, ...] = ()) -> None:
    _git(repo, "add", "-A", who=who)
    body = message + ("\n\n" + "\n".join(trailers) if trailers else "")
    _git(repo, "commit", "-q", "--no-verify", "-m", body, who=who)


def review_trailers(reviewers: tuple[Identity, ...] = REVIEWERS) -> tuple[str, ...]:
    keys = ("Reviewed-by", "Approved-by")
    return tuple(f"{keys[min(i, 1)]}: {person}" for i, person in enumerate(reviewers))


def make_release_repo(
    dest: Path,
    *,
    source: Path = EXAMPLE_DIR,
    node_modules: Path | None = None,
    reviewers: tuple[Identity, ...] = REVIEWERS,
) -> Path:
    """Copy `source` to `dest/elaro` as a git repo at the 3.0.0 release commit; `dest/origin.git` is its remote.

    `node_modules`, when given, is linked into the project (it is git-ignored) so the npm scripts run without a
    fresh install per copy.
    """
    project = dest / "elaro"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns(*_NOT_COPIED), symlinks=True)
    if node_modules is not None:
        (project / "node_modules").symlink_to(node_modules.resolve(), target_is_directory=True)

    # v2.9.0: the previous release, without what 3.0.0 adds.
    held_back = dest / "held-back"
    for relative in ADDED_IN_3_0_0:
        target = held_back / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(project / relative, target)
    _git(project, "init", "-q", "-b", "main")
    commit_all(project, "Elaro 2.9.0", trailers=review_trailers(reviewers))
    _git(project, "tag", "-a", "v2.9.0", "-m", "Production release v2.9.0")
    for relative in ADDED_IN_3_0_0:
        shutil.move(held_back / relative, project / relative)
    shutil.rmtree(held_back)

    commit_all(project, "Elaro 3.0.0: governor limit snapshots, consent expiry", trailers=review_trailers(reviewers))
    origin = dest / "origin.git"
    _git(dest, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(project, "remote", "add", "origin", str(origin))
    _git(project, "push", "-q", "origin", "main", "--tags")
    _git(project, "fetch", "-q", "origin")
    return project


BROKEN_GATES = ("preflight.secrets", "preflight.apex-scan", "preflight.lint", "preflight.readme-version")


def break_example(project: Path, *, reviewers: tuple[Identity, ...] = REVIEWERS) -> None:
    """Commit (and push) the four classic mistakes: a hard-coded password, a SOQL query without enforcement,
    a lint error, and a README without the release version. Every other gate still passes."""
    classes = project / "force-app" / "main" / "default" / "classes"
    poller = classes / "ElaroAuditTrailPoller.cls"
    text = poller.read_text(encoding="utf-8")
    text = text.replace(
        "  public static final String JOB_NAME = 'ElaroAuditTrailPoller';\n",
        "  public static final String JOB_NAME = 'ElaroAuditTrailPoller';\n"
        "  private static final String API_PASSWORD = 'Hunter2-Elaro-Prod!';\n",
    )
    poller.write_text(text, encoding="utf-8")

    retention = classes / "RetentionEnforcementScheduler.cls"
    text = retention.read_text(encoding="utf-8")
    text = text.replace(
        "      WHERE CreatedDate < :cutoff\n      WITH SECURITY_ENFORCED\n", "      WHERE CreatedDate < :cutoff\n"
    )
    retention.write_text(text, encoding="utf-8")

    metrics = project / "force-app" / "main" / "default" / "lwc" / "complianceDashboard" / "gapMetrics.js"
    text = metrics.read_text(encoding="utf-8")
    text = text.replace(
        'const SEVERITY_ORDER = ["Critical", "High", "Medium", "Low"];\n',
        'const SEVERITY_ORDER = ["Critical", "High", "Medium", "Low"];\nconst debugMode = true;\n',
    )
    metrics.write_text(text, encoding="utf-8")

    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("**Version: 3.0.0**", "**Version: 2.9.0**"))
    commit_all(project, "Quick fixes before the release", trailers=review_trailers(reviewers))
    _git(project, "push", "-q", "origin", "main")


def main(argv: list[str] | None = None) -> int:
    """`python -m cutover.checks.sample_repo DEST [--broken]`: build the release repo (for the demo)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cutover.checks.sample_repo", description=main.__doc__)
    parser.add_argument(
        "dest", type=Path, help="empty or new folder; the project is DEST/elaro, its remote DEST/origin.git"
    )
    parser.add_argument("--broken", action="store_true", help="commit the four classic mistakes (see break_example)")
    parser.add_argument(
        "--node-modules",
        type=Path,
        default=EXAMPLE_DIR / "node_modules",
        help="installed npm dependencies to link in (default: examples/elaro/node_modules)",
    )
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    node_modules = args.node_modules if args.node_modules.is_dir() else None
    project = make_release_repo(args.dest, node_modules=node_modules)
    if args.broken:
        break_example(project)
    print(project)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
