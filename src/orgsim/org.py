"""The runtime of one emulated org: its store, scenario, schema, clock, call counters and time-driven state."""

from __future__ import annotations

import json
import math
import re
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from orgsim import cron
from orgsim.ids import KEY_PREFIXES
from orgsim.scenario import DropConnectionFault, HttpErrorFault, Scenario, resolve_scenario
from orgsim.store import OrgStore, format_datetime, parse_datetime

_RELATIVE_TIME = re.compile(r"^@(now|today)(?:([+-])(\d+)([smhdw]))?$")
_REFERENCE = re.compile(r"^@id:(\w+):(.+)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_CLOCK_OFFSET_S = 100 * 366 * 86400.0  # a century either way; far beyond any test, far inside datetime's range

# Value__c (percent of the per-transaction limit) of the snapshots seeded when a scenario gives none.
APEXLOG_FAILURE_OPERATIONS = (
    ("ElaroAuditTrailPoller", "System.LimitException: Too many SOQL queries: 101"),
    ("/aura", "System.NullPointerException: Attempt to de-reference a null object"),
    ("ComplianceDashboardController.getGaps", "System.QueryException: List has no rows for assignment to SObject"),
)


def default_limits() -> dict[str, dict[str, Any]]:
    """A realistic `/limits` answer (key list of a real org), before scenario overrides."""
    text = resources.files("orgsim").joinpath("data/limits.json").read_text(encoding="utf-8")
    return json.loads(text)


class Org:
    """One emulated org. The HTTP layer calls `tick()` before each request so time-driven state is current."""

    def __init__(self, state_dir: Path | str, scenario: Scenario | Path | str | dict[str, Any] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.scenario: Scenario = resolve_scenario(scenario)
        self.lock = threading.RLock()
        self._calls: dict[str, int] = defaultdict(int)
        self._fired_faults: dict[int, int] = defaultdict(int)
        self.store = OrgStore(self.state_dir / "org.db", clock=self.now, default_user_id=self.user_id)
        self.store.key_prefix_for = self.key_prefix
        self._clock_offset = float(self.store.get_setting("clock_offset_seconds", 0.0))
        self.schema = self._new_schema()
        self.tick_hooks: list[Any] = []
        self.query_cursors: dict[str, dict[str, Any]] = {}
        # Custom objects first, so seeded records get the schema's key prefixes.
        self._register_custom_objects()
        if not self.store.get_setting("seeded"):
            self.seed()
        else:
            seeded_for = self.store.get_setting("seeded_org_id")
            if seeded_for and seeded_for != self.org_id:
                self.store.close()
                raise ValueError(
                    f"{self.state_dir} holds org {seeded_for}, not this scenario's {self.org_id}: "
                    "use another state folder or `orgsim reset --state` it"
                )
        self._attach_metadata()

    # -- identity -----------------------------------------------------------------------------------------------
    @property
    def org_id(self) -> str:
        return self.scenario.org.org_id

    @property
    def user_id(self) -> str:
        return self.scenario.org.user_id

    @property
    def username(self) -> str:
        return self.scenario.org.username

    @property
    def access_token(self) -> str:
        return self.scenario.org.access_token

    @property
    def api_version(self) -> str:
        return self.scenario.org.api_version

    # -- clock --------------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The org's current time: wall time plus however far tests or `/__orgsim/clock` advanced it."""
        return datetime.now(UTC) + timedelta(seconds=self._clock_offset)

    def now_text(self) -> str:
        return format_datetime(self.now())

    def advance_clock(self, seconds: float) -> datetime:
        """Move the clock by `seconds`. Raises ValueError for a move that is not finite or ends more than a century
        away: the offset is persisted, and one datetime overflow would break every later request, even after restart."""
        with self.lock:
            offset = self._clock_offset + seconds
            if not math.isfinite(offset) or abs(offset) > MAX_CLOCK_OFFSET_S:
                raise ValueError(f"the org clock can move at most {MAX_CLOCK_OFFSET_S:.0f} seconds from now")
            self._clock_offset = offset
            self.store.set_setting("clock_offset_seconds", self._clock_offset)
        return self.now()

    # -- call counters and faults -------------------------------------------------------------------------------
    def count_call(self, operation: str) -> int:
        """Count one call of `operation` and return its number (1 for the first call)."""
        with self.lock:
            self._calls[operation] += 1
            return self._calls[operation]

    def call_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self._calls)

    def fault_for(self, operation: str, call_number: int) -> HttpErrorFault | DropConnectionFault | None:
        """The scenario fault that fires on this call of `operation`, if any."""
        faults: list[HttpErrorFault | DropConnectionFault] = [
            *self.scenario.faults.drop_connection,
            *self.scenario.faults.http_errors,
        ]
        for fault in faults:
            if fault.operation != operation:
                continue
            if fault.on_call <= call_number < fault.on_call + fault.times:
                return fault
        return None

    # -- schema and key prefixes --------------------------------------------------------------------------------
    def _new_schema(self) -> Any:
        try:
            from orgsim.schema import Schema
        except ImportError:  # the SOQL/schema package is optional while orgsim is being assembled
            return None
        return Schema()

    def _register_custom_objects(self) -> None:
        """Tell the schema about custom objects that only the scenario's records (or stored rows) mention."""
        if self.schema is None or not hasattr(self.schema, "add_custom_object"):
            return
        rows_by_object: dict[str, list[dict[str, Any]]] = {}
        for sobject, rows in self.scenario.records.items():
            rows_by_object.setdefault(sobject, []).extend(rows)
        for sobject in self.store.sobjects():
            if sobject.lower().endswith("__c"):
                rows_by_object.setdefault(sobject, []).extend(self.store.list(sobject)[:50])
        for sobject, rows in rows_by_object.items():
            if not sobject.lower().endswith("__c"):
                continue
            fields: dict[str, str] = {}
            for row in rows:
                for name, value in row.items():
                    if name.lower().endswith("__c") and name not in fields and value is not None:
                        fields[name] = self._infer_field_type(value)
            self.schema.add_custom_object(sobject, fields)

    def _infer_field_type(self, value: Any) -> str:
        if isinstance(value, bool):
            return "Checkbox"
        if isinstance(value, int | float):
            return "Number"
        text = str(value)
        if text.startswith("@now") or re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?", text):
            return "DateTime"
        if text.startswith("@today") or re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return "Date"
        if text.startswith("@id:"):
            return f"Lookup:{text.split(':')[1]}"
        return "Text"

    def _attach_metadata(self) -> None:
        """Let the Metadata API hook its deploy queue into `tick()` and restore deployed custom objects."""
        try:
            from orgsim.metadata import attach
        except ImportError:  # the Metadata API package is optional while orgsim is being assembled
            return
        attach(self)

    def key_prefix(self, sobject: str) -> str:
        """The 3-character id prefix of `sobject`; custom objects get a00, a01, ... in order of first use."""
        if sobject in KEY_PREFIXES:
            return KEY_PREFIXES[sobject]
        schema_prefix = getattr(self.schema, "key_prefix", None)
        if schema_prefix is not None:
            try:
                prefix = schema_prefix(sobject)
            except Exception:
                prefix = None
            if prefix:
                return str(prefix)
        with self.lock:
            allocated: dict[str, str] = self.store.get_setting("custom_key_prefixes", {})
            if sobject not in allocated:
                allocated[sobject] = f"a{len(allocated):02X}"[:3].ljust(3, "0")
                self.store.set_setting("custom_key_prefixes", allocated)
            return allocated[sobject]

    # -- seeding ------------------------------------------------------------------------------------------------
    def seed(self) -> None:
        """Load the scenario's initial state into an empty store."""
        scenario = self.scenario
        identity = scenario.org
        with self.store.transaction():
            self.store.insert(
                "Organization",
                {
                    "Id": identity.org_id,
                    "Name": identity.org_name,
                    "InstanceName": identity.instance_name,
                    "IsSandbox": identity.sandbox,
                    "TrialExpirationDate": identity.trial_expiration_date,
                    "NamespacePrefix": identity.namespace_prefix,
                    "OrganizationType": identity.organization_type,
                    "PrimaryContact": identity.user_name,
                    "TimeZoneSidKey": "America/New_York",
                },
            )
            first, _, last = identity.user_name.rpartition(" ")
            self.store.insert(
                "User",
                {
                    "Id": identity.user_id,
                    "Username": identity.username,
                    "Name": identity.user_name,
                    "FirstName": first or None,
                    "LastName": last,
                    "Email": identity.user_email,
                    "IsActive": True,
                    "UserType": "Standard",
                    "TimeZoneSidKey": "America/New_York",
                    "LanguageLocaleKey": "en_US",
                },
            )
            if scenario.seed_dir is not None:
                from orgsim.metadata import seed_metadata

                seed_metadata(self, scenario.seed_dir)
            for sobject, rows in scenario.records.items():
                for row in rows:
                    self.store.insert(sobject, {key: self.resolve_value(value) for key, value in row.items()})
            for job in scenario.scheduled_jobs:
                self.schedule_job(
                    job.name,
                    job.class_name,
                    job.cron,
                    state=job.state,
                    next_fire_time=self.resolve_value(job.next_fire_time),
                    previous_fire_time=self.resolve_value(job.previous_fire_time),
                    times_triggered=job.times_triggered,
                )
            self.store.set_setting("seeded", True)
            self.store.set_setting("seeded_org_id", self.org_id)
            self.store.set_setting("seeded_at", self.now_text())
            if scenario.faults.limits_rising and scenario.faults.limits_rising.start == "immediately":
                self.store.set_setting("limits_rising_since", self.now_text())

    def reset(self) -> None:
        """Factory reset: forget every record, deploy and clock change, then seed the scenario again."""
        with self.lock:
            self.store.wipe()
            self._calls.clear()
            self._clock_offset = 0.0
            self.query_cursors.clear()
            self.schema = self._new_schema()
            self._register_custom_objects()
            self.seed()
            if hasattr(self, "_orgsim_metadata_attached"):
                del self._orgsim_metadata_attached
                self.tick_hooks.clear()
            self._attach_metadata()

    def resolve_value(self, value: Any) -> Any:
        """Scenario value shorthands: `@now`, `@now-2h`, `@today-1d` and `@id:SObject:Name`."""
        if not isinstance(value, str) or not value.startswith("@"):
            return value
        relative = _RELATIVE_TIME.match(value)
        if relative:
            base, sign, amount, unit = relative.groups()
            delta = timedelta(**{_UNITS[unit]: int(amount)}) if amount else timedelta()
            moment = self.now() + delta if sign != "-" else self.now() - delta
            return moment.date().isoformat() if base == "today" else format_datetime(moment)
        reference = _REFERENCE.match(value)
        if reference:
            sobject, name = reference.groups()
            matches = self.store.find(sobject, Name=name) or self.store.find(sobject, Username=name)
            if not matches:
                raise ValueError(f"{value}: no {sobject} named {name!r} (records are seeded in file order)")
            return matches[0]["Id"]
        return value

    # -- scheduled Apex -----------------------------------------------------------------------------------------
    def apex_class_id(self, class_name: str) -> str | None:
        for record in self.store.list("ApexClass"):
            if str(record.get("Name", "")).lower() == class_name.lower():
                return record["Id"]
        return None

    def scheduled_job_named(self, name: str) -> dict[str, Any] | None:
        """The live CronTrigger of the CronJobDetail called `name`, if any."""
        details = {detail["Id"] for detail in self.store.find("CronJobDetail", Name=name)}
        for trigger in self.store.list("CronTrigger"):
            if trigger.get("CronJobDetailId") in details:
                return trigger
        return None

    def schedule_job(
        self,
        name: str,
        class_name: str,
        cron_expression: str,
        *,
        state: str = "WAITING",
        next_fire_time: str | None = None,
        previous_fire_time: str | None = None,
        times_triggered: int = 0,
    ) -> str:
        """Create CronJobDetail + CronTrigger + AsyncApexJob like `System.schedule`; returns the CronTrigger id."""
        schedule = cron.parse_cron(cron_expression)
        now = self.now()
        if next_fire_time is None and state in ("WAITING", "ACQUIRED", "EXECUTING"):
            upcoming = cron.next_fire_time(schedule, now)
            next_fire_time = format_datetime(upcoming) if upcoming else None
        with self.store.transaction():
            detail_id = self.store.insert("CronJobDetail", {"Name": name, "JobType": "7"})
            trigger_id = self.store.insert(
                "CronTrigger",
                {
                    "CronJobDetailId": detail_id,
                    "CronExpression": cron_expression,
                    "State": state,
                    "NextFireTime": next_fire_time,
                    "PreviousFireTime": previous_fire_time,
                    "StartTime": format_datetime(now),
                    "EndTime": None,
                    "TimesTriggered": times_triggered,
                    "TimeZoneSidKey": "America/New_York",
                    "OwnerId": self.user_id,
                },
            )
            self.store.insert(
                "AsyncApexJob",
                {
                    "JobType": "ScheduledApex",
                    "ApexClassId": self.apex_class_id(class_name),
                    "ApexClassName": class_name,
                    "CronTriggerId": trigger_id,
                    "Status": "Queued",
                    "JobItemsProcessed": 0,
                    "TotalJobItems": 0,
                    "NumberOfErrors": 0,
                    "MethodName": None,
                    "CompletedDate": None,
                    "ExtendedStatus": None,
                },
            )
        return trigger_id

    def abort_job(self, job_id: str) -> bool:
        """`System.abortJob`: delete the CronTrigger (and its detail) and mark its AsyncApexJob Aborted."""
        with self.store.transaction():
            found = self.store.get(job_id)
            if found is None:
                return False
            sobject, record = found
            if sobject == "AsyncApexJob":
                trigger_id = record.get("CronTriggerId")
                self.store.update(record["Id"], {"Status": "Aborted", "CompletedDate": self.now_text()})
                if trigger_id:
                    self._delete_trigger(trigger_id)
                return True
            if sobject != "CronTrigger":
                return False
            self._delete_trigger(record["Id"])
            for job in self.store.list("AsyncApexJob"):
                if job.get("CronTriggerId") and job["CronTriggerId"][:15] == record["Id"][:15]:
                    self.store.update(job["Id"], {"Status": "Aborted", "CompletedDate": self.now_text()})
            return True

    def _delete_trigger(self, trigger_id: str) -> None:
        found = self.store.get(trigger_id)
        if found is None:
            return
        _, trigger = found
        self.store.delete(trigger_id)
        if trigger.get("CronJobDetailId"):
            self.store.delete(trigger["CronJobDetailId"])

    def abort_scheduled_jobs(self, name_prefix: str | None = None) -> list[str]:
        """Abort every scheduled job (optionally only those whose name starts with `name_prefix`); names aborted.

        The Metadata API side calls this when the scenario says a deploy aborts scheduled jobs.
        """
        aborted = []
        with self.store.transaction():
            for trigger in self.store.list("CronTrigger"):
                detail = self.store.get(trigger.get("CronJobDetailId") or "")
                name = detail[1].get("Name", "") if detail else ""
                if name_prefix is None or name.startswith(name_prefix):
                    self.abort_job(trigger["Id"])
                    aborted.append(name)
        return aborted

    # -- deploy hook --------------------------------------------------------------------------------------------
    def after_deploy(self, deploy_summary: Any = None) -> None:
        """Called by the Metadata API when a (non check-only) deploy succeeds: start post-deploy symptoms."""
        faults = self.scenario.faults
        now = self.now()
        with self.store.transaction():
            self.store.set_setting("last_deploy_at", format_datetime(now))
            if faults.limits_rising and faults.limits_rising.start == "after_deploy":
                self.store.set_setting("limits_rising_since", format_datetime(now))
                self.store.set_setting("limits_snapshot_last", None)
            for index in range(faults.apexlog_failures_after_deploy):
                operation, message = APEXLOG_FAILURE_OPERATIONS[index % len(APEXLOG_FAILURE_OPERATIONS)]
                started = now + timedelta(seconds=index + 1)
                self.store.insert(
                    "ApexLog",
                    {
                        "LogUserId": self.user_id,
                        "Operation": operation,
                        "Request": "Api" if operation.startswith("/") else "Application",
                        # Real ApexLog rows carry the error itself in Status ("Success" when all went well).
                        "Status": message,
                        "Location": "Monitoring",
                        "DurationMilliseconds": 1200 + 37 * index,
                        "LogLength": 4096 + 512 * index,
                        "StartTime": format_datetime(started),
                        "LastModifiedDate": format_datetime(started),
                    },
                )

    # -- time-driven state --------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Bring time-driven state up to date (called before each request): test runs, scheduled jobs' fire times,
        rising limits, hooks."""
        from orgsim.tooling import advance_test_runs

        with self.lock:
            advance_test_runs(self)
            cron.refresh_triggers(self.store, self.now())
            for hook in list(self.tick_hooks):
                hook(self)
            self._emit_rising_snapshots()

    def limits_rising_minutes(self) -> float:
        """Minutes since rising limit consumption started (0 when it has not)."""
        since = self.store.get_setting("limits_rising_since")
        if not since or self.scenario.faults.limits_rising is None:
            return 0.0
        return max(0.0, (self.now() - parse_datetime(since)).total_seconds() / 60.0)

    def _emit_rising_snapshots(self) -> None:
        rising = self.scenario.faults.limits_rising
        if rising is None or not self.store.get_setting("limits_rising_since"):
            return
        now = self.now()
        last = self.store.get_setting("limits_snapshot_last")
        if last and (now - parse_datetime(last)).total_seconds() < rising.snapshot_interval_seconds:
            return
        minutes = self.limits_rising_minutes()
        baselines = self.store.get_setting("limits_snapshot_baselines")
        if baselines is None:
            baselines = {}
            for record in self.store.list("Governor_Limit_Snapshot__c"):
                baselines[str(record.get("Name"))] = float(record.get("Value__c") or 0)
            self.store.set_setting("limits_snapshot_baselines", baselines)
        with self.store.transaction():
            for name, per_minute in rising.snapshots.items():
                value = min(rising.cap_percent, baselines.get(name, 0.0) + per_minute * minutes)
                self.store.insert("Governor_Limit_Snapshot__c", {"Name": name, "Value__c": round(value, 1)})
            self.store.set_setting("limits_snapshot_last", format_datetime(now))

    def limits(self) -> dict[str, dict[str, Any]]:
        """The `/limits` document: defaults, scenario overrides, API calls served and any rising consumption."""
        document = default_limits()
        for name, value in self.scenario.limits.items():
            document.setdefault(name, {}).update({"Max": value.Max, "Remaining": value.Remaining})
        api = document.get("DailyApiRequests")
        if api is not None:
            api["Remaining"] = max(0, int(api["Remaining"]) - sum(self.call_counts().values()))
        rising = self.scenario.faults.limits_rising
        minutes = self.limits_rising_minutes()
        if rising is not None and minutes > 0:
            for name, percent_per_minute in rising.limits.items():
                entry = document.get(name)
                if entry is None:
                    continue
                used = entry["Max"] * min(rising.cap_percent, percent_per_minute * minutes) / 100.0
                entry["Remaining"] = max(0, int(entry["Remaining"] - used))
        return document

    def today(self) -> date:
        return self.now().date()

    def close(self) -> None:
        self.store.close()
