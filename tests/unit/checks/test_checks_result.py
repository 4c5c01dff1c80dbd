from cutover.checks.result import Evidence, GateResult, GateStatus, failed, passed, skipped, waiting


def test_evidence_is_redacted_and_hashed():
    item = Evidence.text("log.txt", "Authorization: Bearer 00D000000000001!AQ8.secret-token-value")
    assert "secret-token-value" not in item.content
    assert len(item.sha256) == 64
    assert item.summary()["name"] == "log.txt"


def test_detail_is_redacted():
    result = failed("g", "t", "token 00D000000000001AAA!AQ8abcdefgh leaked")
    assert "AQ8abcdefgh" not in result.detail


def test_lets_deploy_rules():
    assert passed("g", "t", "ok").lets_deploy
    assert not failed("g", "t", "no").lets_deploy
    assert not waiting("g", "t", "sign").lets_deploy
    assert GateResult("g", "t", GateStatus.WAIVED, True, "waived").lets_deploy
    assert failed("g", "t", "no", blocking=False).lets_deploy
    assert skipped("g", "t", "later").lets_deploy  # skipped gates are advisory by default


def test_to_json_shape():
    data = passed("a.b", "Title", "fine", Evidence.json("x.json", {"k": 1})).to_json()
    assert data["status"] == "passed" and data["blocking"] is True
    assert data["evidence"][0]["name"] == "x.json"
    assert set(data) == {"id", "title", "status", "blocking", "detail", "evidence", "output_tail"}
    assert data["output_tail"] == []


def test_output_tail_is_redacted_and_shown_under_the_detail():
    token = "00D000000000001AAA!AQ8xyzSECRETxyz"
    result = failed("a.b", "T", "`x` exited 1", tail=("first", f"token {token}"))
    assert result.output_tail[0] == "first" and "SECRETxyz" not in result.output_tail[1]
    lines = result.full_detail.splitlines()
    assert lines[:2] == ["`x` exited 1", "    | first"] and lines[2].startswith("    | token ") and len(lines) == 3
    assert passed("a.b", "T", "fine").full_detail == "fine"
    assert result.to_json()["output_tail"] == list(result.output_tail)
