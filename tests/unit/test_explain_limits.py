"""`cutover explain` on hostile input (issue 11): only regular files, a size limit, a depth limit, malformed counts,
unprintable text, and a 100k-failure result that prints a summary instead of 8 MB. Each refusal is exit 2 naming
the limit; nothing is an internal error (exit 3)."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.commands import explain as explain_cmd


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def deploy_doc(**result) -> dict:
    base = {"id": "0Af000000000001AAA", "status": "Failed", "success": False, "done": True, "details": {}}
    return {"status": 1, "result": {**base, **result}}


def write(tmp_path: Path, doc, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ what is read
def test_device_is_refused_without_reading(capsys):
    code, _, err = run(capsys, "/dev/zero")
    assert code == 2 and "not a regular file" in err


def test_fifo_is_refused_and_does_not_hang(capsys, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(code=main(["explain", str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the open() so the test process can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("explain blocked on a FIFO")
    assert outcome["code"] == 2
    assert "not a regular file" in capsys.readouterr().err


def test_file_over_the_size_limit_is_refused_by_its_size(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(explain_cmd, "MAX_FILE_BYTES", 1000)
    path = write(tmp_path, deploy_doc(errorMessage="x" * 2000))
    code, _, err = run(capsys, str(path))
    assert code == 2 and f"{explain_cmd.MAX_FILE_MIB} MiB limit" in err


def test_real_size_limit_on_a_sparse_file(capsys, tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(explain_cmd.MAX_FILE_BYTES + 1)
    code, _, err = run(capsys, str(path))
    assert code == 2 and "MiB limit" in err


def test_stdin_is_bounded_too(capsys, monkeypatch):
    monkeypatch.setattr(explain_cmd, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{" + b" " * 500 + b"}")))
    code, _, err = run(capsys, "-")
    assert code == 2 and "<stdin>" in err and "MiB limit" in err


def test_invalid_utf8_is_reported_by_line(capsys, tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b'{\n"status": 0,\n"result": "\xff"}')
    code, _, err = run(capsys, str(path))
    assert code == 2 and "r.json:3: not UTF-8" in err


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_1000_deep_is_refused_naming_the_limit(capsys, tmp_path, opener):
    closer = "]" if opener == "[" else "}"
    inner = opener * 1000 + ("" if opener == "[" else "1") + closer * 1000
    path = write(tmp_path, '{"status": 0, "result": {"id": "0Af1", "details": ' + inner + "}}")
    code, _, err = run(capsys, str(path))
    assert code == 2 and "nested deeper than the limit of 64 levels" in err


# -------------------------------------------------------------------------------------------- what is printed
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"numberComponentsTotal": 1e400', "numberComponentsTotal is Infinity"),
        ('"numberComponentsDeployed": -5', "numberComponentsDeployed is -5"),
        ('"numberComponentErrors": true', "numberComponentErrors is true"),
    ],
)
def test_impossible_counts_are_malformed(capsys, tmp_path, raw, message):
    path = write(tmp_path, '{"status": 1, "result": {"id": "0Af1", "status": "Failed", ' + raw + "}}")
    code, out, err = run(capsys, str(path))
    assert code == 2 and message in err and "malformed" in err
    assert out == ""


def test_fractional_exit_status_is_not_exit_3(capsys, tmp_path):
    path = write(tmp_path, {"status": 3.5, "result": {"id": "0Af1", "status": "Succeeded", "numberComponentsTotal": 2}})
    code, out, err = run(capsys, str(path))
    assert code == 2 and "status is 3.5" in err and "exit 3" not in out


def test_error_envelope_with_boolean_exit_code_is_malformed(capsys, tmp_path):
    path = write(tmp_path, {"name": "SomeError", "message": "boom", "exitCode": True})
    code, _, err = run(capsys, str(path))
    assert code == 2 and "exitCode is true" in err


def test_lone_surrogate_and_terminal_escapes_are_shown_escaped(capsys, tmp_path):
    fail = {"componentType": "ApexClass", "fullName": "[/bold]", "problem": "bad \x1b[2J here", "success": False}
    path = write(tmp_path, deploy_doc(status="\ud800", details={"componentFailures": [fail]}))
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    assert "\\ud800" in out and "\\x1b[2J" in out and "\x1b" not in out
    assert "[/bold]" in out  # a name that looks like Rich markup is data


def test_surrogates_in_json_format_are_escaped_json(capsys, tmp_path):
    path = write(tmp_path, deploy_doc(status="\ud800"))
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "\ud800"


def test_100k_failures_print_a_summary_fast(capsys, tmp_path):
    failures = [
        {
            "componentType": "ApexClass",
            "fullName": f"C{i}",
            "fileName": f"classes/C{i}.cls",
            "problem": "Unexpected",
            "lineNumber": i,
            "columnNumber": 5,
            "success": False,
        }
        for i in range(100_000)
    ]
    path = write(
        tmp_path,
        deploy_doc(
            numberComponentsTotal=100_000, numberComponentErrors=100_000, details={"componentFailures": failures}
        ),
    )
    started = time.monotonic()
    code, out, err = run(capsys, str(path))
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert "100000 total, 0 deployed, 100000 failed" in out
    assert "C49 " in out and "C50 " not in out
    assert "and 99950 more component failures, see --format json" in out
    assert len(out) < 20_000
    assert elapsed < 20  # was 40 s printing a 100k-row table (8 MB); about 3 s now on a shared machine


def test_text_view_cuts_lists_and_keeps_totals():
    view = explain_cmd.text_view({"a": list(range(120)), "limits": list(range(120)), "s": "\ud800"})
    assert len(view["a"]) == explain_cmd.TEXT_ROWS and view["a"].total == 120
    assert len(view["limits"]) == 120
    assert view["s"] == "\\ud800"


def test_query_field_names_are_data_not_rich_markup(capsys, tmp_path):
    """Found by the fuzz test: a field name in a query result was handed to Rich as a column header object."""
    doc = {"status": 0, "result": {"totalSize": 1, "done": True, "records": [{"[/bold]": 1, "Name": "[red]x"}]}}
    code, out, err = run(capsys, str(write(tmp_path, doc)))
    assert code == 0, err
    assert "[/bold]" in out and "[red]x" in out


def test_a_huge_message_is_cut_in_text_and_whole_in_json(capsys, tmp_path):
    path = write(tmp_path, deploy_doc(errorMessage="e" * 1_000_000))
    code, out, _ = run(capsys, str(path))
    assert code == 0 and len(out) < 10_000
    assert f"{1_000_000 - explain_cmd.TEXT_CHARS} more characters, see --format json" in out
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 0 and len(json.loads(out)["error_message"]) == 1_000_000
