"""Seeded fuzzing of `cutover explain` and the sf parsers (issue 11): 300 mutated `sf --json` outputs, built from the
recorded fixtures (tests/fixtures/sf/) and, when present, the team's reference samples beside the repository.

Every input must end in exit 0 (explained) or 2 (refused with a message), never 3 (a bug), within a bounded time;
the parsers the steps use may raise only SfMalformedOutput. Run with `-s` to see the tally by outcome;
`CUTOVER_FUZZ_SEED` and `CUTOVER_FUZZ_CASES` rerun it with another seed or more inputs.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cutover.cli import main
from cutover.sf import SfResult
from cutover.sf.errors import SfMalformedOutput, error_for
from cutover.sf.process import decode_json_document
from cutover.sf.results import (
    parse_anonymous_apex,
    parse_deploy_result,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_query_result,
    parse_retrieve_result,
    parse_test_run,
)

SEED = int(os.environ.get("CUTOVER_FUZZ_SEED", "20261205"))  # other seeds: CUTOVER_FUZZ_SEED=7 pytest ...
CASES = int(os.environ.get("CUTOVER_FUZZ_CASES", "300"))
PER_INPUT_S = 5.0  # generous for a shared 2-core machine; typical inputs take milliseconds
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sf"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sf-samples"
HOSTILE = [
    float("inf"),
    float("-inf"),
    -1,
    -7.0,
    3.5,
    True,
    False,
    None,
    "",
    "\ud800",
    "\x1b[2J\x07",
    "[/bold][red]",
    "x" * 100_000,
    [],
    {},
    "NaN",
    "1e400",
    2**70,
    0,
]
PARSERS = (
    parse_deploy_result,
    parse_test_run,
    parse_retrieve_result,
    parse_query_result,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_anonymous_apex,
)


def _seeds() -> list[Any]:
    docs: list[Any] = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]
    if SAMPLES.is_dir():
        for name in ("pdr_MetadataApiDeployStatus_variants.json", "plugin_apex_test_run_results.json"):
            raw = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
            docs += [{"status": 0, "result": v} for k, v in sorted(raw.items()) if not k.startswith("_")]
        limits = json.loads((SAMPLES / "swiftly_MockLimits_limits_response.json").read_text(encoding="utf-8"))
        docs.append({"status": 0, "result": {k: v for k, v in limits.items() if not k.startswith("_")}})
    return docs


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc[:20]):
            out += _paths(value, (*prefix, index))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _mutate(rng: random.Random, seed: Any) -> tuple[str, bytes]:
    """One mutation of a deep copy of `seed`, as the bytes of a file; returns (mutation name, bytes)."""
    doc = json.loads(json.dumps(seed))
    paths = _paths(doc)
    kind = rng.choice(
        ["scalar", "scalar", "scalar", "delete", "repeat", "nest", "truncate", "bytes", "retype", "junk", "status"]
    )
    if kind == "scalar":
        doc = _set(doc, rng.choice(paths), rng.choice(HOSTILE))
    elif kind == "delete":
        path = rng.choice([p for p in paths if p] or [()])
        if path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
    elif kind == "repeat":
        lists = [p for p in paths if isinstance(_get(doc, p), list) and _get(doc, p)]
        if lists:
            path = rng.choice(lists)
            doc = _set(doc, path, _get(doc, path) * rng.choice([50, 2000]))
    elif kind == "nest":
        depth = rng.choice([10, 63, 70, 1000, 5000])
        doc = _set(doc, rng.choice(paths), "@NEST@")
        text = json.dumps(doc).replace('"@NEST@"', "[" * depth + "1" + "]" * depth, 1)
        return f"nest{depth}", text.encode()
    elif kind == "retype":
        path = rng.choice(paths)
        value = _get(doc, path)
        doc = _set(doc, path, [value] if not isinstance(value, list) else {"x": value})
    elif kind == "status":
        doc = {"status": rng.choice(HOSTILE[:8]), "result": doc.get("result", doc)} if isinstance(doc, dict) else doc
    text = json.dumps(doc, indent=rng.choice([None, 2]), allow_nan=True)
    data = text.encode("utf-8")
    if kind == "truncate":
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == "bytes":
        at = rng.randrange(len(data) + 1)
        data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:]
    elif kind == "junk":
        data = b"Warning: a newer sf is available\n{ not json\n" + data + b"\ntrailing"
    return kind, data


def _parse_all(data: bytes) -> str:
    """The parsers the steps use: a malformed document is SfMalformedOutput, anything else would be a bug."""
    try:
        doc = decode_json_document(data.decode("utf-8", errors="replace"))
    except ValueError:
        return "too-deep"
    result = doc.get("result", doc) if isinstance(doc, dict) else doc
    outcome = "parsed"
    for parser in PARSERS:
        try:
            parser(result)
        except SfMalformedOutput:
            outcome = "malformed"
    answer = SfResult(("sf", "project", "deploy", "report"), 0, doc, "", "", 0.1)
    error_for(answer)  # must not raise
    return outcome


def test_seeded_fuzz_of_explain_and_parsers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # a crash log, if any, lands here, not in the repository
    seeds = _seeds()
    rng = random.Random(SEED)
    tally: Counter[str] = Counter()
    slowest = 0.0
    bugs: list[str] = []
    started = time.monotonic()
    for case in range(CASES):
        kind, data = _mutate(rng, rng.choice(seeds))
        path = tmp_path / f"case{case}.json"
        path.write_bytes(data)
        fmt = "json" if case % 3 == 0 else "text"
        began = time.monotonic()
        code = main(["explain", str(path), "--format", fmt])
        parsed = _parse_all(data)
        elapsed = time.monotonic() - began
        slowest = max(slowest, elapsed)
        err = capsys.readouterr().err
        tally[f"exit {code}"] += 1
        tally[f"parsers: {parsed}"] += 1
        if code not in (0, 2) or elapsed > PER_INPUT_S:
            bugs.append(f"case {case} ({kind}, {fmt}): exit {code} in {elapsed:.2f}s: {err.strip()[:300]}")
    total = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nexplain fuzz, seed {SEED}, {CASES} inputs from {len(seeds)} seeds in {total:.1f}s "
            f"(slowest {slowest:.2f}s): " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))
        )
    assert not bugs, "\n".join(bugs)
    assert tally["exit 0"] and tally["exit 2"], tally  # the mutations reach both outcomes
    assert tally["parsers: malformed"], tally
