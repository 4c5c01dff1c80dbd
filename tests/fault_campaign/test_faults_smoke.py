"""A small run of the seeded fault campaign (bench/bench_faults.py): every state corruption, three interrupt moments.

0 exit 3, 0 hangs, 0 silent passes of tampering, damage is exit 6, an interrupted run resumes with its side effect
done once. (`python -m bench faults` runs the whole campaign and prints the tally.)
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bench_faults import FAMILIES, STATE_MUTATIONS, campaign, tally  # noqa: E402


def test_the_registry_has_the_state_and_interrupt_families() -> None:
    assert {"state", "interrupts"} <= set(FAMILIES)
    assert len(STATE_MUTATIONS) >= 40


def test_state_corruptions_never_crash_hang_or_pass_silently() -> None:
    outcomes = campaign(seed=7, families=["state"])
    assert len(outcomes) == len(STATE_MUTATIONS)
    report = "\n".join(tally(outcomes, 7, 0.0))
    assert not [o for o in outcomes if o.problems], report
    assert all(3 not in o.codes.values() for o in outcomes), report


def test_interrupts_resume_with_the_side_effect_done_once() -> None:
    outcomes = campaign(seed=7, families=["interrupts"], limit=3)
    assert len(outcomes) == 3
    assert [o.codes["run"] for o in outcomes] == [130, 130, 130]
    assert not [o for o in outcomes if o.problems], "\n".join(tally(outcomes, 7, 0.0))


def test_sf_output_family_runs_300_mutated_outputs_through_explain_and_the_parsers() -> None:
    from bench.bench_faults import SF_OUTPUT_CASES

    assert "sf-outputs" in FAMILIES and SF_OUTPUT_CASES >= 300
    outcomes = campaign(seed=7, families=["sf-outputs"], limit=60)
    assert len(outcomes) == 60
    report = "\n".join(tally(outcomes, 7, 0.0))
    assert not [o for o in outcomes if o.problems], report
    assert {o.codes["explain"] for o in outcomes} == {0, 2}, report  # both outcomes reached
    assert 2 in {o.codes["parsers"] for o in outcomes}, report  # some outputs are malformed for the parsers
