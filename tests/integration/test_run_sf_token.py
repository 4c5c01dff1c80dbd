"""A run whose steps call the real `sf` CLI against orgsim: the org's access token, printed by
`sf org auth show-access-token` (JSON and human output), never reaches `.cutover/` (evidence files, the SQLite
database, HEAD anchors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from orgsim.testing import OrgsimServer, sf_env

CUTOVER = [sys.executable, "-c", "import sys; from cutover.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_access_token_from_real_sf_output_is_redacted_everywhere(
    tmp_path: Path, production_org: OrgsimServer, sf_bin: Path, sf_home: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    sf = json.dumps(str(sf_bin))
    (project / "cutover.yaml").write_text(
        f"""\
target:
  alias: production
stages: [post_deploy]
signoffs: []
custom_steps:
  - id: token-json
    after: post_deploy
    run: [{sf}, org, auth, show-access-token, --target-org, production, --json]
  - id: token-human
    after: post_deploy
    run: [{sf}, org, auth, show-access-token, --target-org, production, --no-prompt]
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*CUTOVER, "-C", str(project), "run", "--yes", "--format", "json"],
        capture_output=True,
        text=True,
        env=sf_env(sf_home, sf_bin),
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {s["id"]: s["status"] for s in status["steps"]}["custom.token-json"] == "passed"

    token = production_org.token
    secret_part = token.split("!", 1)[1]
    state = project / ".cutover"
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in files)
    for path in files:
        data = path.read_bytes()
        assert token.encode() not in data, path
        assert secret_part.encode() not in data, path
    assert token not in done.stdout + done.stderr

    # The output really was captured (so the check above is not vacuous): the token field is there, masked.
    stdout = next(p for p in files if p.parent.name == "custom.token-json" and p.name == "run.stdout.txt")
    result = json.loads(stdout.read_text())["result"]
    assert result["accessToken"] == "[REDACTED]"
    human = next(p for p in files if p.parent.name == "custom.token-human" and p.name == "run.stdout.txt")
    assert "[REDACTED]" in human.read_text()
