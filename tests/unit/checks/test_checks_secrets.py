import json
from pathlib import Path

from checks_git_helpers import commit, git, write

from cutover.checks.result import GateStatus
from cutover.checks.secrets import check_secrets, scan_repository

PASSWORD = "Hunter2-Elaro-Prod!"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "classes/Clean.cls", "public class Clean {\n  String name = 'Compliance';\n}\n")
    write(repo, "classes/Leaky.cls", f"public class Leaky {{\n  String password = '{PASSWORD}';\n}}\n")
    write(repo, "empty.txt", "")
    commit(repo, "init")
    write(repo, "scratch.cls", f"String api_key = '{PASSWORD}x';\n")  # untracked: not scanned
    return repo


def test_finds_a_hard_coded_password_without_printing_it(tmp_path: Path):
    repo = _repo(tmp_path)
    result = check_secrets("preflight.secrets", "Secrets", repo, cache_path=tmp_path / "cache.json")
    assert result.status == GateStatus.FAILED
    assert "classes/Leaky.cls:2 (Secret Keyword)" in result.detail
    assert "scratch.cls" not in result.detail
    everything = result.detail + "".join(e.content for e in result.evidence)
    everything += (tmp_path / "cache.json").read_text()
    assert PASSWORD not in everything


def _hashed(secret: str) -> str:
    from detect_secrets.core.potential_secret import PotentialSecret

    return PotentialSecret.hash_secret(secret)


def test_baseline_accepts_known_findings(tmp_path: Path):
    repo = _repo(tmp_path)
    cache = tmp_path / "cache.json"
    first = scan_repository(repo, cache_path=cache)
    finding = first.findings[0]
    baseline = {
        "version": "1.5.0",
        "plugins_used": [{"name": "KeywordDetector"}],
        "filters_used": [],
        "results": {finding.path: [{"type": finding.type, "hashed_secret": _hashed(PASSWORD), "line_number": 2}]},
    }
    write(repo, ".secrets.baseline", json.dumps(baseline))
    result = check_secrets("g", "t", repo, baseline_path=repo / ".secrets.baseline", cache_path=cache)
    assert result.status == GateStatus.PASSED
    assert "1 known in the baseline" in result.detail
    # A changed baseline invalidates the cache: the finding is back once it is no longer accepted.
    write(repo, ".secrets.baseline", json.dumps({**baseline, "results": {}}))
    assert check_secrets("g", "t", repo, baseline_path=repo / ".secrets.baseline", cache_path=cache).status == "failed"
    assert _hashed(PASSWORD) not in cache.read_text()


def test_audited_real_secret_in_baseline_still_fails(tmp_path: Path):
    repo = _repo(tmp_path)
    finding = scan_repository(repo).findings[0]
    entry = {"type": finding.type, "hashed_secret": _hashed(PASSWORD), "line_number": 2, "is_secret": True}
    write(
        repo,
        ".secrets.baseline",
        json.dumps({"plugins_used": [{"name": "KeywordDetector"}], "results": {finding.path: [entry]}}),
    )
    assert check_secrets("g", "t", repo, baseline_path=repo / ".secrets.baseline").status == GateStatus.FAILED


def test_incremental_scan_only_rescans_changed_files(tmp_path: Path):
    repo = _repo(tmp_path)
    cache = tmp_path / "cache.json"
    cold = scan_repository(repo, cache_path=cache)
    assert cold.files_scanned == cold.files_total == 3
    warm = scan_repository(repo, cache_path=cache)
    assert warm.files_scanned == 0 and warm.files_cached == 3
    assert [f.path for f in warm.findings] == [f.path for f in cold.findings]
    write(repo, "classes/Leaky.cls", "public class Leaky {}\n")
    fixed = scan_repository(repo, cache_path=cache)
    assert fixed.files_scanned == 1
    assert fixed.findings == ()


def test_not_a_git_repo(tmp_path: Path):
    result = check_secrets("g", "t", tmp_path)
    assert result.status == GateStatus.FAILED and "not a git repository" in result.detail


def test_worker_processes_find_the_same_as_one_process(tmp_path: Path, monkeypatch):
    from cutover.checks import secrets

    repo = _repo(tmp_path)
    for i in range(6):
        write(repo, f"classes/Gen{i}.cls", f"public class Gen{i} {{ String token = 'x{i}Q9#kLm2vP7rT'; }}\n")
    commit(repo, "more")
    single = scan_repository(repo)
    monkeypatch.setattr(secrets, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(secrets.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    parallel = scan_repository(repo)
    assert parallel.findings == single.findings
    assert len(parallel.findings) >= 2


def test_excluded_folders_are_not_scanned(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, "backups/old/Leaky.cls", f"String password = '{PASSWORD}';\n")
    commit(repo, "backup")
    names = [f.path for f in scan_repository(repo).findings]
    assert "backups/old/Leaky.cls" in names
    names = [f.path for f in scan_repository(repo, exclude_dirs=["backups"]).findings]
    assert "backups/old/Leaky.cls" not in names and "classes/Leaky.cls" in names


def test_an_unreadable_tracked_file_fails_the_gate(tmp_path: Path, monkeypatch):
    # A file the scan cannot read may hold the secret: "no secrets" would be a claim nobody checked.
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "classes/Clean.cls", "public class Clean {}\n")
    write(repo, "config/creds.properties", "nothing yet\n")
    commit(repo, "init")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "creds.properties":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = check_secrets("preflight.secrets", "Secrets", repo)
    assert result.status == GateStatus.FAILED
    assert "config/creds.properties" in result.detail


def test_an_unreadable_baseline_fails_the_gate_instead_of_crashing(tmp_path: Path, monkeypatch):
    repo = _repo(tmp_path)
    baseline = repo / ".secrets.baseline"
    baseline.write_text("{}")
    real_read_text = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        if self.name == ".secrets.baseline":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    result = check_secrets("preflight.secrets", "Secrets", repo, baseline_path=baseline)
    assert result.status == GateStatus.FAILED
    assert "cannot read" in result.detail
