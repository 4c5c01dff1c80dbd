from __future__ import annotations

from pathlib import Path

import pytest

from cutover.cli import main

DATA = Path(__file__).parent / "data"
# A copy of the seed runbook (shared/seed/ beside the repository), so the tests run on a clean clone (CI).
SEED = DATA / "elaro-production-runbook.md"
SHARED_SEED = Path(__file__).resolve().parents[4] / "shared" / "seed" / "elaro-production-runbook.md"


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder that is also the current folder (so error paths print relative)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `cutover ARGS`; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
