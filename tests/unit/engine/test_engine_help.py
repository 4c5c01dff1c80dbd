"""Every run command documents itself: `--help` works and says what the command does."""

from __future__ import annotations

import itertools

import pytest

from cutover.cli import main

COMMANDS = [
    ["run"],
    ["resume"],
    ["status"],
    ["runs"],
    ["signoff"],
    ["waive"],
    ["retry"],
    ["abort"],
    ["audit", "verify"],
    ["audit", "log"],
    ["audit", "evidence"],
    ["lock", "status"],
    ["lock", "break"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out
    after_usage = out.split("Usage:", 1)[1].splitlines()[1:]
    description = itertools.takewhile(lambda line: not line.lstrip().startswith("╭"), after_usage)
    summary = " ".join(line.strip() for line in description if line.strip())
    assert len(summary) > 20, f"`cutover {' '.join(command)}` has no description"


def test_review_signoffs_attach_to_the_code_review_gate(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    (tmp_path / "cutover.yaml").write_text(
        "target:\n  alias: rehearsal\n  production: false\nstages: [preflight]\nsignoffs: []\n", encoding="utf-8"
    )
    args = ["-C", str(tmp_path), "signoff", "reviews", "--role", "reviewer"]
    assert main([*args, "--by", "rita"]) == 0
    assert main([*args, "--by", "RITA"]) == 1  # the same person does not count twice
    assert main([*args, "--by", "omar"]) == 0
    capsys.readouterr()
    assert main(["-C", str(tmp_path), "status", "--format", "json"]) == 0
    steps = {s["id"]: s for s in json.loads(capsys.readouterr().out)["steps"]}
    assert [s["by"] for s in steps["preflight.reviews"]["signoffs"]] == ["rita", "omar"]
