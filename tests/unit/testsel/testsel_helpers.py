"""Shared by the testsel unit tests: the fixture project and deltas built with cutover.delta's own types."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cutover.delta import Component, Delta

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "testsel"
CLASSES = Path("force-app/main/default/classes")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def fixture_repo(repo: Path, tag: str) -> Path:
    """A git repository holding the fixture project (and a .gitignore for .cutover/), committed and tagged."""
    shutil.copytree(FIXTURE, repo)
    (repo / ".gitignore").write_text(".cutover/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first release")
    git(repo, "tag", tag)
    return repo


def add_method(repo: Path, *classes: str) -> None:
    """Give each class one more method (a change of its body)."""
    for name in classes:
        path = repo / CLASSES / f"{name}.cls"
        body = path.read_text().rstrip()
        added = "\n    public static Integer added() {\n        return 1;\n    }\n}\n"
        path.write_text(body[: body.rindex("}")] + added)


def delta(*upserts: Component, deletions: tuple[Component, ...] = ()) -> Delta:
    return Delta(since="v1.0.0", until="HEAD", upserts=upserts, deletions=deletions, renames=())


__all__ = ["CLASSES", "FIXTURE", "Component", "Delta", "add_method", "delta", "fixture_repo", "git"]
