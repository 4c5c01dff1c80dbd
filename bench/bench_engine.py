"""Run engine figures: cost of a committed event (one transaction each, WAL, synchronous=FULL), of a no-op step
(started + finished events, status updates, lock re-check), of an evidence file, and of `audit verify`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec


class _NoOp:
    idempotent = True

    def run(self, ctx: StepContext) -> StepOutcome:
        return StepOutcome.passed()


class _Evidence:
    idempotent = True

    def run(self, ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("out.txt", "x" * 10_000)
        return StepOutcome.passed()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(Path(folder))
        run = engine.create_run("bench", [StepSpec("s0", "stage", "S", "noop")])

        n = 500
        started = time.perf_counter()
        for i in range(n):
            with engine.store.transaction() as tx:
                tx.append_event(run.id, "bench.event", None, {"i": i, "text": "some payload " * 5})
        elapsed = time.perf_counter() - started
        print(f"append event (own transaction): {elapsed / n * 1000:.2f} ms/event ({n / elapsed:.0f} events/s)")

        steps = 200
        specs = [StepSpec(f"s{i}", "stage", f"Step {i}", "noop") for i in range(steps)]
        noop_run = engine.create_run("bench-noop", specs)
        started = time.perf_counter()
        engine.execute(noop_run.id, {s.id: _NoOp() for s in specs})
        elapsed = time.perf_counter() - started
        print(f"no-op step through the runner: {elapsed / steps * 1000:.2f} ms/step ({steps} steps)")

        ev_specs = [StepSpec(f"e{i}", "stage", f"Evidence {i}", "evidence") for i in range(100)]
        ev_run = engine.create_run("bench-evidence", ev_specs)
        started = time.perf_counter()
        engine.execute(ev_run.id, {s.id: _Evidence() for s in ev_specs})
        elapsed = time.perf_counter() - started
        print(f"step recording one 10 kB evidence file: {elapsed / 100 * 1000:.2f} ms/step")

        for run_id in (run.id, noop_run.id, ev_run.id):
            started = time.perf_counter()
            report = engine.verify(run_id)
            elapsed = time.perf_counter() - started
            assert report.ok, report.problem
            print(f"audit verify: {report.count} events in {elapsed * 1000:.1f} ms")
        engine.close()


if __name__ == "__main__":
    main()
