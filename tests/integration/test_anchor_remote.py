"""Issue 9.4: the audit head anchored off the machine catches a consistent rewrite of the local log.

A real run (real sf CLI against orgsim, a bare git origin in tmp_path) pauses after the guard (`--until guard`) and
then finishes with the release stage: at each stop the head is appended to `refs/notes/cutover` (on the commit,
then on the release tag) and pushed to origin. An attacker then rewrites the local log *consistently*: edits an
event, recomputes every hash after it and the HEAD file, as the chain's own documentation says it cannot detect.
Plain `cutover audit verify` still passes; `cutover audit verify --remote` fetches the anchors and fails naming the
anchored event.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from test_deploy_path import cutover, env, git, make_project, start_org  # noqa: F401

from cutover.engine.chain import GENESIS, event_hash

NOTES = "refs/notes/cutover"


def rewrite_consistently(project: Path, run_id: str, edit_seq: int) -> None:
    """What an attacker with the machine does: change one event's payload, then re-chain everything after it and
    move HEAD, so that the chain verifies again."""
    db = sqlite3.connect(project / ".cutover" / "state.db")
    try:
        rows = db.execute(
            "SELECT id, seq, at, type, step_id, payload FROM events WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        prev = GENESIS
        last = (0, GENESIS)
        for row_id, seq, at, type_, step_id, payload in rows:
            data = json.loads(payload)
            if seq == edit_seq:
                data["rewritten"] = "by someone at this keyboard"
            digest = event_hash(seq, run_id, at, type_, step_id, data, prev)
            db.execute(
                "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (json.dumps(data, sort_keys=True), prev, digest, row_id),
            )
            prev, last = digest, (seq, digest)
        db.commit()
    finally:
        db.close()
    (project / ".cutover" / "runs" / run_id / "HEAD").write_text(f"{last[0]} {last[1]}\n")


def test_a_consistent_rewrite_passes_local_verify_but_not_the_remote_anchors(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=["guard", "release"])
        paused = cutover(project, env, "run", "--yes", "--until", "guard", "--format", "json")
        assert paused.returncode == 0, paused.stdout[-2000:] + paused.stderr[-2000:]
        run_id = json.loads(paused.stdout)["run_id"]
        done = cutover(project, env, "resume", run_id, "--format", "json")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert json.loads(done.stdout)["state"] == "succeeded"
    finally:
        server.stop()

    log = json.loads(cutover(project, env, "audit", "log", run_id, "--format", "json").stdout)
    published = [e for e in log if e["type"] == "anchor.published"]
    assert len(published) == 2, [e["type"] for e in log]
    first, last = published[0]["payload"], published[1]["payload"]
    assert first["published"][0]["on"].startswith("commit ") and first["published"][0]["pushed"] is True
    assert last["published"][0]["on"] == "tag v3.0.0" and last["published"][0]["pushed"] is True
    # what was pushed is the head before each anchor event, and origin has it
    origin = tmp_path / "origin.git"
    notes = git(origin, "log", "-p", NOTES, env=env)
    for payload in (first, last):
        assert payload["head"]["hash"] in notes
        assert any(e["seq"] == payload["head"]["seq"] and e["hash"] == payload["head"]["hash"] for e in log)

    ok = cutover(project, env, "audit", "verify", run_id, "--remote")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 anchor(s) on origin match the local chain" in ok.stdout

    # the guard's finished event is anchored by both heads: rewrite it consistently
    guard_done = next(e for e in log if e["type"] == "step.finished" and e["step_id"] == "guard.org-identity")
    rewrite_consistently(project, run_id, guard_done["seq"])
    local = cutover(project, env, "audit", "verify", run_id)
    assert local.returncode == 0, local.stdout + local.stderr  # the chain alone cannot see it
    remote = cutover(project, env, "audit", "verify", run_id, "--remote")
    assert remote.returncode == 1, remote.stdout + remote.stderr
    seq = first["head"]["seq"]
    assert f"anchor of event #{seq}" in remote.stdout and "the log was rewritten after it was anchored" in remote.stdout
    assert f"run {run_id}: anchor of event #{seq}" in remote.stderr  # the one-line error names it too
    as_json = json.loads(cutover(project, env, "audit", "verify", run_id, "--remote", "--format", "json").stdout)
    assert as_json[0]["ok"] is True and as_json[0]["remote"]["ok"] is False
    assert len(as_json[0]["remote"]["problems"]) == 2  # both anchors cover the edited event


def test_without_a_remote_verify_remote_says_it_cannot_check(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=["guard"])
        git(project, "remote", "remove", "origin", env=env)
        done = cutover(project, env, "run", "--yes", "--format", "json")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    finally:
        server.stop()
    log = json.loads(cutover(project, env, "audit", "log", "--format", "json").stdout)
    anchor = [e for e in log if e["type"] == "anchor.published"][-1]["payload"]
    assert anchor["published"][0]["pushed"] is False and "no remote 'origin'" in anchor["warnings"][0]
    assert NOTES in git(project, "for-each-ref", "--format=%(refname)", env=env)  # kept in this clone
    checked = cutover(project, env, "audit", "verify", "--remote")
    assert checked.returncode == 6, checked.stdout + checked.stderr
    assert "no git remote 'origin'" in checked.stderr
