import json
import time
from pathlib import Path

from cutover.checks.contacts import Contact, check_contacts
from cutover.checks.coverage import check_apex_coverage, check_lwc_coverage
from cutover.checks.result import GateStatus


def test_required_roles_with_tbd_fail():
    contacts = [
        Contact("lead", "Deployment Lead", "Avery", "avery@x.com", "+1 555", True),
        Contact("sec", "Security Reviewer", "TBD", "TBD", "TBD", True),
        Contact("cto", "CTO", "TBD", "TBD", "TBD", False),
    ]
    result = check_contacts("g", "t", contacts)
    assert result.status == GateStatus.FAILED
    assert "Security Reviewer (no name; no email or phone)" in result.detail
    assert "CTO" not in result.detail


def test_named_contacts_pass():
    contacts = [Contact("lead", "Deployment Lead", "Avery", "avery@x.com", "+1 555", True)]
    assert check_contacts("g", "t", contacts).status == GateStatus.PASSED


def _summary(path: Path, lines: float) -> Path:
    total = {
        name: {"total": 10, "covered": 8, "pct": lines} for name in ("lines", "statements", "functions", "branches")
    }
    path.write_text(json.dumps({"total": total}))
    return path


def test_lwc_coverage_threshold(tmp_path: Path):
    good = check_lwc_coverage("g", "t", _summary(tmp_path / "s.json", 85.0), threshold=80)
    assert good.status == GateStatus.PASSED and "85.0% ≥ 80%" in good.detail
    bad = check_lwc_coverage("g", "t", _summary(tmp_path / "s.json", 79.9), threshold=80)
    assert bad.status == GateStatus.FAILED and "79.9% < 80%" in bad.detail


def test_lwc_coverage_missing_stale_or_garbled(tmp_path: Path):
    assert "not found" in check_lwc_coverage("g", "t", tmp_path / "none.json", threshold=80).detail
    old = _summary(tmp_path / "s.json", 90)
    assert "stale" in check_lwc_coverage("g", "t", old, threshold=80, not_before=time.time() + 60).detail
    old.write_text("{}")
    assert "not a coverage summary" in check_lwc_coverage("g", "t", old, threshold=80).detail


def test_apex_coverage_pending_until_validation():
    pending = check_apex_coverage("g", "t", percent=None, threshold=85)
    assert pending.status == GateStatus.SKIPPED and not pending.blocking
    assert "checked at the validation step" in pending.detail
    assert check_apex_coverage("g", "t", percent=87, threshold=85, source="validation").status == GateStatus.PASSED
    assert check_apex_coverage("g", "t", percent=84.9, threshold=85).status == GateStatus.FAILED
