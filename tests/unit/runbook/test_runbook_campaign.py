"""Issue 11's runbook campaign, seeded: ≥ 500 mutated runbooks derived from the Elaro and generic templates. Each
load either succeeds or is a one-line RunbookError (exit 2) within the bound: never another exception, never a hang.
The tally by kind and outcome is printed (`pytest -s` shows it)."""

from __future__ import annotations

import resource
import time
from collections import Counter
from pathlib import Path

from .runbook_mutations import BOUND_SECONDS, MUTATORS, load_outcome, mutants

SEED = 11


def test_seeded_runbook_mutations_load_or_exit_2_within_the_bound(tmp_path: Path) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    bad: list[str] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    count = 0
    for number, mutant in enumerate(mutants(SEED)):
        path = tmp_path / f"{number:04d}-{mutant.template}-{mutant.kind}.yaml"
        path.write_bytes(mutant.data)
        outcome, seconds, message = load_outcome(path)
        count += 1
        tally[(mutant.kind, outcome)] += 1
        slowest = max(slowest, (seconds, f"{path.name} ({mutant.detail})"))
        if outcome not in ("loaded", "exit 2"):
            bad.append(f"{path.name}: {mutant.detail}: {outcome}: {message}")
        elif outcome == "exit 2" and ("\n" in message or not message.startswith(str(path))):
            bad.append(f"{path.name}: {mutant.detail}: not one located line: {message!r}")
        path.unlink()
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\nrunbook campaign, seed {SEED}: {count} mutated runbooks in {elapsed:.1f} s, peak memory {peak_mb:.0f} MB")
    print(f"  slowest load: {slowest[0]:.2f} s: {slowest[1]}")
    for kind in MUTATORS:
        outcomes = ", ".join(f"{outcome}: {n}" for (k, outcome), n in sorted(tally.items()) if k == kind)
        print(f"  {kind}: {outcomes}")
    totals = Counter()
    for (_, outcome), n in tally.items():
        totals[outcome] += n
    print(f"  total: {', '.join(f'{outcome}: {n}' for outcome, n in sorted(totals.items()))}")

    assert count >= 500
    assert not bad, "\n".join(bad[:20])
    assert slowest[0] < BOUND_SECONDS
    # Not vacuous: both answers occur, and every kind produced cases.
    assert totals["loaded"] > 20 and totals["exit 2"] > 300
    assert {kind for kind, _ in tally} == set(MUTATORS)
