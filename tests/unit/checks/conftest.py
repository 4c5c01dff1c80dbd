"""Small real git repositories for the check tests (no network; a bare `origin` in tmp_path)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Dana Developer",
    "GIT_AUTHOR_EMAIL": "dana@example.com",
    "GIT_COMMITTER_NAME": "Dana Developer",
    "GIT_COMMITTER_EMAIL": "dana@example.com",
}


def git(repo: Path, *args: str, **env: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout


def write(repo: Path, relative: str, text: str) -> Path:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commit(repo: Path, message: str, **env: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, **env)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    # The checks run git themselves: keep the developer's global config (signing, hooks) out of it.
    for key, value in GIT_ENV.items():
        if key.startswith("GIT_CONFIG"):
            monkeypatch.setenv(key, value)


@pytest.fixture
def repo_with_origin(tmp_path: Path) -> Callable[[], Path]:
    """A repo on `main` with one commit, pushed to a bare `origin`."""

    def make() -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        write(repo, "README.md", "# Demo\n")
        commit(repo, "first")
        origin = tmp_path / "origin.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
        git(repo, "remote", "add", "origin", str(origin))
        git(repo, "push", "-q", "origin", "main")
        return repo

    return make
