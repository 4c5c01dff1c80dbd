"""The release record: `cutover report [RUN] --format md|html|json|junit`, rendered from a run's state, evidence and
hash-chained audit trail, for a release manager and an auditor.

Rendering is read-only: `.cutover/state.db` is opened with `mode=ro`, evidence files, the HEAD anchor and the
runbook are only read. The integrity check is done at render time, never copied from an earlier result: the hash
chain, the HEAD anchor, every evidence file's SHA-256, and the step/run states of the database replayed from the
chained event log. A broken trail is the first thing every format shows (and `cutover report` exits 1 after writing
the record, so CI notices); facts from an evidence file that no longer matches its SHA-256 are not used.

Library use::

    from cutover.report import build_record, render
    record = build_record(project_dir, run_id=None)      # latest run; a dict (schema below), already redacted
    text = render(record, "html")                        # "md" | "html" | "json" | "junit"

JSON schema (`"schema": "cutover.release-record/1"`; keys are stable, new keys may be added; times are UTC ISO 8601
as the engine records them, durations in seconds, `null` where unknown):

- `generated`: {at, by (user@host that rendered it), tool}
- `run`: {id, name (runbook name), release_version, state, note, target_org, created, started, ended, duration_s,
  updated, operators: [{at, event (run.started|run.resumed), user, host, pid}], hosts, users, git_head, git_tag,
  git_branch, runbook: {path, sha256 (at run creation), current_sha256, unchanged}}
- `org`: {alias, production, expected: {org_id, username, instance_url, sandbox}, actual: {...}, mismatches,
  not_pinned, guard_step, guard_status, guard_detail, source (evidence path)}
- `audit`: {ok, chain_ok, events, verified_events, head_hash, anchored_head: {seq, hash}, first_bad_event,
  chain_problem, state_problems: [str], evidence_problems: [str], problems: [str] (all of them, first bad event
  first), checked_at_render: true}
- `anchors`: [{at, event (seq of the publishing event), seq, hash (the head published), reason, kind (git-notes |
  notification), where (one line: ref, object, remote / channels), published (reached another machine), warning}]
  — every publication of the audit head off the machine (`cutover.engine.anchors`)
- `summary`: {verdict (one line), state, steps, counts: {status: n}}
- `steps`: [{position, id, stage, title, kind, action, blocking, contingency, status, started, finished, duration_s,
  attempts, detail, external_ids, evidence_count}] in plan order
- `signoffs`: [{step_id, by, role, role_title, note, evidence, at, signed, signer (the verified identity), fingerprint
  (the key's SHA256:...), statement_sha256}] — signer/fingerprint null for an unsigned sign-off
- `checklists`: [{step_id, stage, title, status, blocking, roles, role_titles, min_signers, evidence_required,
  items: [str], signed: [{by, role, at, evidence, note, signed, signer, fingerprint, statement_sha256}]}] — every
  sign-off step, as the runbook's checklist
- `separation_of_duties`: {exclusive_roles: [[role, role]], checks: [{step_id, roles, min_signers, signers,
  satisfied, status, not_author, evidence_required}], violations: [str], ok, checked}
- `waivers`: [{step_id, reason, approver, at}]
- `gates`: {total, counts: {status: n}, items: [{id, title, kind, status, blocking, detail}]} (the preflight stage)
- `release`: {commit, branch, tag, message, pushed, source} or null
- `backup`: null | {step_id, status, detail, recorded, source, folder, archive, sha256, size, archive_state
  (ok|modified|missing), verified, retrieve_id, files, components, release_components, added_by_release: ["Type:Name"],
  redeploy_command}
- `deploy`: {coverage_threshold, validation, quick_deploy}; each null or {step_id, status, detail, job_id, source,
  result_status, check_only, created, completed, components: {total, deployed, errors, failures: [...]},
  tests: {run, failures, total_time_ms, failed: [{name, message}]}, coverage: {org_wide_pct, threshold,
  meets_threshold, classes: [{name, type, lines, covered, pct, below_threshold}]}}; validation also has `criteria`,
  quick_deploy `validation_id`
- `verification`: [{id, title, status, detail, data (the step's reported outcome), evidence: [path]}]
- `monitoring`: {steps: [same shape], alerts: [...], limits: [{limit, max_pct, threshold, breached}]}. Read from
  the monitor steps' outcome data and `monitor*.json`/`limits*.json`/`alerts*.json` evidence: keys `max_pct`
  (limit → highest % used) and `alerts` (list), plus `alert.*` events of those steps. `series`: [{step_id, window,
  metric, title, unit, threshold, max, breaches, points: [{n, at, value, breach (severity or null)}], alerts: [{id,
  at, severity, sample, title}]}] from the chained `monitor.sample` events of each monitor step's last window
  (org-wide limits only when they reached 50 % or breached): the HTML draws each as an SVG chart.
- `rollback`: {triggered, reasons: [{at, event, step_id, reason}], outcome, restored, removed, jobs_rescheduled,
  steps: [same shape as verification]}
- `evidence`: [{step_id, name, path, sha256, size, created, state (ok|modified|missing)}]
- `known_issues`: [{id, title, symptom, workaround, permanent_fix}]; `contacts`: [{role, title, responsibility, name,
  email, phone}] (from the runbook file; see `notes` if it changed since the run)
- `escalation`: null | {channels: [{type, target, min_severity}] (never the URL: it may carry a token),
  path: [{severity, response_time, path: [role title]}], internal: [role title], support: [str]}
- `notes`: [str] — anything the reader should know about how the record was made.
"""

from __future__ import annotations

from cutover.report.record import SCHEMA, build_record
from cutover.report.render import FORMATS, render

__all__ = ["FORMATS", "SCHEMA", "build_record", "render"]
