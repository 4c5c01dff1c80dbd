"""Secrets gate: detect-secrets over the git-tracked files, honouring `.secrets.baseline`, incrementally.

The seed's `grep -r "password\\|api_key\\|secret"` flags every mention of the words; detect-secrets looks for values
(keywords assigned literals, high-entropy strings, known token shapes). Results per file are cached under
`.cutover/cache/secrets.json`, keyed by the file's content hash and by the detector settings, so a re-run only scans
what changed. Findings name file, line and detector; the secret itself (or its hash) never leaves this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.checks.result import Evidence, GateResult, failed, passed

CACHE_VERSION = 3
MAX_FILE_BYTES = 2_000_000  # larger tracked files are data dumps or binaries; scanning them costs more than it finds
PARALLEL_THRESHOLD = 400  # below this many files to scan, starting worker processes costs more than it saves

# detect-secrets keeps its settings in a process-wide global: one scan at a time per process.
_SETTINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    type: str

    def public(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "type": self.type}


@dataclass(frozen=True)
class SecretsScan:
    findings: tuple[SecretFinding, ...]  # new findings: not in the baseline (or audited there as real secrets)
    baseline_known: int  # findings the baseline already lists as accepted
    files_total: int
    files_scanned: int  # scanned this time (changed or uncached)
    files_cached: int  # answered from the cache
    files_skipped: tuple[str, ...]  # too large or unreadable
    files_unreadable: tuple[str, ...] = ()  # the part of files_skipped that could not be read: not proven clean


def tracked_files(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=repo, capture_output=True, check=True
    ).stdout.decode("utf-8", errors="surrogateescape")
    return sorted({name for name in out.split("\0") if name})


#: Filters every scan uses, whatever the baseline lists: lock files (integrity hashes), templated and `$`-prefixed
#: values, indirect references, and the CI/template/vault reference syntax of `cutover.checks.secret_refs`.
REQUIRED_FILTERS = (
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_templated_secret",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "cutover.checks.secret_refs.is_ci_reference",
)


def _settings_config(baseline: dict[str, Any] | None) -> dict[str, Any]:
    """The detector configuration: the baseline's own when there is one, else every plugin with default filters;
    the REQUIRED_FILTERS are added either way (a baseline written with fewer filters must not bring back findings
    such as `${{ secrets.NAME }}` or package-lock.json integrity hashes)."""
    if baseline and baseline.get("plugins_used"):
        config: dict[str, Any] = {"plugins_used": baseline["plugins_used"]}
        filters = list(baseline.get("filters_used") or [])
    else:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import Settings

        plugins = get_mapping_from_secret_type_to_class().values()
        config = {"plugins_used": [{"name": cls.__name__} for cls in plugins]}
        filters = [{"path": path} for path in sorted(Settings().filters)]
    present = {item.get("path") for item in filters if isinstance(item, dict)}
    filters += [{"path": path} for path in REQUIRED_FILTERS if path not in present]
    config["filters_used"] = filters
    return config


def _settings_key(config: dict[str, Any], known: set[tuple[str, str]]) -> str:
    """What a cached answer depends on besides the file: detectors, detect-secrets version, the accepted findings."""
    from detect_secrets.__version__ import VERSION

    payload = json.dumps(
        {"config": config, "detect_secrets": VERSION, "v": CACHE_VERSION, "known": sorted(known)}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _scan_one(path: str) -> list[tuple[int, str, str]]:
    from detect_secrets.core.scan import scan_file

    try:
        return [(s.line_number, s.type, s.secret_hash) for s in scan_file(path)]
    except (UnicodeDecodeError, OSError):
        return []


def _scan_paths(config: dict[str, Any], paths: list[str]) -> list[list[tuple[int, str, str]]]:
    """Scan `paths` with detect-secrets; many files are split over worker processes (detect-secrets is pure Python
    and CPU-bound: 5-25 ms per file). Workers are plain `python -m cutover.checks.secrets` subprocesses, not
    multiprocessing, so they work from any thread and whatever the main module is."""
    from detect_secrets.settings import transient_settings

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cores, 8)
    if len(paths) < PARALLEL_THRESHOLD or workers < 2:
        with _SETTINGS_LOCK, transient_settings(config):
            return [_scan_one(path) for path in paths]
    chunks = [paths[i::workers] for i in range(workers)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cutover.checks.secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in chunks
    ]
    try:
        # Feed every worker first, then collect: they scan at the same time.
        for proc, chunk in zip(procs, chunks, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"config": config, "paths": chunk}).encode("utf-8"))
            proc.stdin.close()
        answers = [(proc.stdout.read(), proc.stderr.read()) for proc in procs]  # type: ignore[union-attr]
        for proc in procs:
            proc.wait()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    results: list[list[tuple[int, str, str]]] = [[] for _ in paths]
    for worker_index, (proc, (out, err)) in enumerate(zip(procs, answers, strict=True)):
        if proc.returncode != 0:
            raise RuntimeError(f"secrets scan worker failed: {err.decode('utf-8', 'replace').strip()[-500:]}")
        for offset, found in enumerate(json.loads(out)):
            results[worker_index + offset * workers] = [tuple(item) for item in found]
    return results


def _worker_main() -> None:
    """`python -m cutover.checks.secrets`: scan the paths given as JSON on stdin; print findings as JSON."""
    from detect_secrets.settings import transient_settings

    request = json.loads(sys.stdin.buffer.read())
    with transient_settings(request["config"]):
        found = [_scan_one(path) for path in request["paths"]]
    sys.stdout.write(json.dumps(found))


def _load_cache(cache_path: Path | None, settings_key: str) -> dict[str, Any]:
    if cache_path is None or not cache_path.is_file():
        return {}
    try:
        data = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("settings") != settings_key:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_cache(cache_path: Path | None, settings_key: str, files: dict[str, Any]) -> None:
    if cache_path is None:
        return
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"settings": settings_key, "files": files}, sort_keys=True), encoding="utf-8")
    os.replace(tmp, cache_path)


def _baseline_known(baseline: dict[str, Any] | None) -> set[tuple[str, str]]:
    known: set[tuple[str, str]] = set()
    for filename, entries in ((baseline or {}).get("results") or {}).items():
        for entry in entries or []:
            if entry.get("is_secret") is True:  # audited as a real secret: still a finding
                continue
            known.add((filename, entry.get("hashed_secret", "")))
    return known


def load_baseline(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{path.name}: not valid JSON ({exc})") from exc
    return data if isinstance(data, dict) else None


def scan_repository(
    repo: Path,
    *,
    baseline_path: Path | None = None,
    cache_path: Path | None = None,
    files: Iterable[str] | None = None,
    exclude_dirs: Iterable[str] = (),
) -> SecretsScan:
    """Scan the tracked files of `repo` (or `files`, relative to it) and return findings not in the baseline.

    Files under a folder named in `exclude_dirs` (at any depth, like `grep --exclude-dir`) are not scanned."""
    baseline = load_baseline(baseline_path)
    config = _settings_config(baseline)
    known = _baseline_known(baseline)
    settings_key = _settings_key(config, known)
    cache = _load_cache(cache_path, settings_key)
    names = sorted(files) if files is not None else tracked_files(repo)
    excluded = set(exclude_dirs)
    if excluded:
        names = [name for name in names if not excluded.intersection(name.split("/")[:-1])]
    baseline_name = baseline_path.name if baseline_path else None

    new_cache: dict[str, Any] = {}
    to_scan: list[tuple[str, str]] = []  # (name, content hash)
    skipped: list[str] = []
    unreadable: list[str] = []
    for name in names:
        if name == baseline_name:
            continue
        path = repo / name
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                if path.exists():
                    skipped.append(name)
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            skipped.append(name)
            unreadable.append(name)
            continue
        cached = cache.get(name)
        if cached and cached.get("sha256") == digest:
            new_cache[name] = cached
        else:
            to_scan.append((name, digest))

    scanned = _scan_paths(config, [str(repo / name) for name, _ in to_scan])
    for (name, digest), found in zip(to_scan, scanned, strict=True):
        # The cache keeps line, detector and whether the baseline accepts it: never the secret nor its hash.
        entries = [[line, kind, (name, hashed) in known] for line, kind, hashed in found]
        new_cache[name] = {"sha256": digest, "findings": entries}
    _save_cache(cache_path, settings_key, new_cache)

    findings: list[SecretFinding] = []
    known_count = 0
    for name in sorted(new_cache):
        for line, kind, accepted in new_cache[name]["findings"]:
            if accepted:
                known_count += 1
            else:
                findings.append(SecretFinding(name, int(line), kind))
    return SecretsScan(
        findings=tuple(findings),
        baseline_known=known_count,
        files_total=len(new_cache) + len(skipped),
        files_scanned=len(to_scan),
        files_cached=len(new_cache) - len(to_scan),
        files_skipped=tuple(skipped),
        files_unreadable=tuple(unreadable),
    )


def check_secrets(
    gate_id: str,
    title: str,
    repo: Path,
    *,
    baseline_path: Path | None = None,
    cache_path: Path | None = None,
    exclude_dirs: Iterable[str] = (),
) -> GateResult:
    try:
        scan = scan_repository(repo, baseline_path=baseline_path, cache_path=cache_path, exclude_dirs=exclude_dirs)
    except subprocess.CalledProcessError:
        return failed(gate_id, title, f"{repo} is not a git repository: cannot list the tracked files")
    except ValueError as exc:
        return failed(gate_id, title, f"secrets baseline: {exc}")
    report = {
        "findings": [f.public() for f in scan.findings],
        "baseline": str(baseline_path.name) if baseline_path and baseline_path.is_file() else None,
        "baseline_known": scan.baseline_known,
        "files_total": scan.files_total,
        "files_scanned": scan.files_scanned,
        "files_cached": scan.files_cached,
        "files_skipped": list(scan.files_skipped),
        "files_unreadable": list(scan.files_unreadable),
    }
    evidence = Evidence.json("secrets.json", report)
    counts = f"{scan.files_total} tracked files ({scan.files_scanned} scanned, {scan.files_cached} unchanged)"
    if scan.files_unreadable and not scan.findings:
        listed = ", ".join(scan.files_unreadable[:5])
        more = f" and {len(scan.files_unreadable) - 5} more" if len(scan.files_unreadable) > 5 else ""
        return failed(
            gate_id,
            title,
            f"cannot read {len(scan.files_unreadable)} tracked file(s) to scan: {listed}{more}; fix their permissions",
            evidence,
        )
    if not scan.findings:
        known = f"; {scan.baseline_known} known in the baseline" if scan.baseline_known else ""
        return passed(gate_id, title, f"no secrets in {counts}{known}", evidence)
    listed = ", ".join(f"{f.path}:{f.line} ({f.type})" for f in scan.findings[:5])
    more = f" and {len(scan.findings) - 5} more" if len(scan.findings) > 5 else ""
    return failed(
        gate_id,
        title,
        f"{len(scan.findings)} possible secret(s): {listed}{more}; remove them, or audit them into .secrets.baseline",
        evidence,
    )


if __name__ == "__main__":
    _worker_main()
