"""Release-record figures: building the record of a large run (read-only open, chain verification, state replay,
evidence hashing) and rendering it in each format. The run looks like a day of monitoring: 60 steps, 96 monitoring
samples with readings (one event each), 200 evidence files of 10 kB and one 20 MB file (a backup-sized document)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec
from cutover.report import FORMATS, build_record, render


class _Busy:
    idempotent = True

    def __init__(self, samples: int, evidence: int, big: bool) -> None:
        self.samples, self.evidence, self.big = samples, evidence, big

    def run(self, ctx: StepContext) -> StepOutcome:
        readings = [{"metric": m, "value": 42.0, "threshold": 80, "unit": "%"} for m in ("soql", "dml", "cpu", "heap")]
        for n in range(self.samples):
            ctx.event("monitor.sample", n=n, readings=readings, breaches=[])
        for i in range(self.evidence):
            ctx.record_evidence(f"out-{i}.txt", "x" * 10_000)
        if self.big:
            ctx.record_evidence("big.json", {"blob": "y" * 20_000_000})
        return StepOutcome.passed("done", max_percent={"soql": 42.0, "cpu": 42.0})


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        engine = Engine(project)
        specs = [StepSpec(f"s{i:02d}", "monitor" if i == 59 else "stage", f"Step {i}", "busy") for i in range(60)]
        run = engine.create_run("bench", specs)
        executors = {s.id: _Busy(0, 4, False) for s in specs}
        executors["s00"] = _Busy(0, 0, True)
        executors["s59"] = _Busy(96, 0, False)
        engine.execute(run.id, executors)
        events = len(engine.events(run.id))
        engine.close()

        render(build_record(project), "html")  # warm imports and the template: the figures are the work itself
        started = time.perf_counter()
        record = build_record(project)
        elapsed = time.perf_counter() - started
        assert record["audit"]["ok"], record["audit"]["problems"]
        print(
            f"build record: {elapsed * 1000:.0f} ms ({events} events, {len(record['evidence'])} evidence files "
            "incl. one of 20 MB, 60 steps)"
        )
        for fmt in FORMATS:
            started = time.perf_counter()
            text = render(record, fmt)
            elapsed = time.perf_counter() - started
            print(f"render {fmt:<5}: {elapsed * 1000:6.1f} ms, {len(text) / 1024:.0f} kB")


if __name__ == "__main__":
    main()
