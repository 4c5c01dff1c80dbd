"""orgsim figures: org start-up, request latency over HTTP keep-alive, store throughput, peak memory.

Prints numbers only (no assertions). `python -m bench orgsim`.
"""

from __future__ import annotations

import http.client
import resource
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from orgsim.org import Org
from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer

CRON_QUERY = (
    "SELECT Id, CronJobDetail.Name, State, NextFireTime FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Elaro%'"
)


def _latencies(server: OrgsimServer, path: str, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": f"Bearer {server.token}"}
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
    connection.close()
    return timings


def _report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"{label:<34} n={len(timings):>4}  median {statistics.median(timings):6.2f} ms  p95 {p95:6.2f} ms"
        f"  {1000 * len(timings) / sum(timings):7.0f} req/s"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        with OrgsimServer(root / "production", builtin_scenario_path("production")) as server:
            print(f"start production org (seed + bind)   {(time.perf_counter() - started) * 1000:8.1f} ms")
            _report("GET /limits", _latencies(server, "/services/data/v62.0/limits", 300))
            _report(
                "GET query (CronTrigger, 1 join)",
                _latencies(server, f"/services/data/v62.0/query?q={quote(CRON_QUERY)}", 300),
            )
            _report("GET unknown endpoint (404)", _latencies(server, "/services/data/v62.0/nope", 300))

        org = Org(root / "bulk")
        started = time.perf_counter()
        with org.store.transaction():
            for index in range(10_000):
                org.store.insert("Account", {"Name": f"Account {index}", "Industry": "Tech"})
        insert_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        rows = org.store.list("Account")
        list_ms = (time.perf_counter() - started) * 1000
        print(f"store: insert 10,000 records           {insert_ms:8.1f} ms ({10_000 / insert_ms * 1000:,.0f}/s)")
        print(f"store: list {len(rows):,} records             {list_ms:8.1f} ms")
        org.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process              {peak_mb:8.1f} MB")


if __name__ == "__main__":
    main()
