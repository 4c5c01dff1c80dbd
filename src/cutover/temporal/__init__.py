"""cutover on Temporal: team and fleet runs whose state lives in Temporal instead of one machine's `.cutover/`.

- `connect`: where Temporal is (`--temporal`, `CUTOVER_TEMPORAL`, or `cutover server`'s address file);
- `devserver`: the embedded `temporal server start-dev` (SQLite under `.cutover/temporal/`);
- `workflows`: one workflow per org (id = org id: the org lock across machines) and one per fleet;
- `activities`: plan a run, advance it with the local engine and the step registry, record a sign-off;
- `state`: a run's local store rebuilt from the events its workflow holds (stateless workers);
- `client`: what the commands ask of Temporal.

Only this package imports `temporalio`.
"""
