"""Fixtures for the check tests: small real git repositories (no network; a bare `origin` in tmp_path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from checks_git_helpers import GIT_ENV, commit, git, write


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
