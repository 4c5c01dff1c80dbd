"""Scenario files: who the emulated org is, what it already holds, how long things take and what goes wrong.

A scenario is YAML validated by pydantic; unknown keys are errors that name the key, so a typo in a fault never
silently turns a failure drill into a green run. Every section has defaults: `orgsim serve` with no scenario is an
empty production org.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orgsim.ids import fix_hint, is_valid_id

DEFAULT_ORG_ID = "00D5g00000ELAROEA5"
DEFAULT_USER_ID = "0055g00000RMGR1AAP"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OrgIdentity(_Section):
    org_id: str = DEFAULT_ORG_ID
    username: str = "release.manager@elaro.example.com"
    user_id: str = DEFAULT_USER_ID
    user_name: str = "Release Manager"
    user_email: str = "release.manager@elaro.example.com"
    org_name: str = "Elaro Production"
    instance_name: str = "NA224"
    sandbox: bool = False
    organization_type: str = "Enterprise Edition"
    namespace_prefix: str | None = None
    trial_expiration_date: str | None = None
    access_token: str = ""
    api_version: str = "62.0"

    @field_validator("org_id")
    @classmethod
    def _org_id_shape(cls, value: str) -> str:
        if not value.startswith("00D") or not is_valid_id(value) or len(value) != 18:
            raise ValueError(fix_hint(value, "org", "00D"))
        return value

    @field_validator("user_id")
    @classmethod
    def _user_id_shape(cls, value: str) -> str:
        if not value.startswith("005") or not is_valid_id(value) or len(value) != 18:
            raise ValueError(fix_hint(value, "user", "005"))
        return value

    @field_validator("api_version")
    @classmethod
    def _api_version_shape(cls, value: str) -> str:
        major, _, minor = str(value).partition(".")
        if not major.isdigit() or minor != "0":
            raise ValueError("must look like '62.0'")
        return str(value)

    @model_validator(mode="after")
    def _default_token(self) -> OrgIdentity:
        # sf only accepts tokens shaped like `00D<12-15 word chars>!<[.\w]*>`.
        if not self.access_token:
            self.access_token = f"{self.org_id[:15]}!orgsim.{self.org_id[3:15].lower()}Token"
        elif not self.access_token.startswith(self.org_id[:15] + "!"):
            raise ValueError("access_token must start with the first 15 characters of org_id followed by '!'")
        return self


class Durations(_Section):
    """Org-clock seconds; the formulas are in orgsim.timing and docs/orgsim.md ("Timing model")."""

    # Fixed model (alone: the whole duration; with the per-unit keys: the fixed part).
    validate_seconds: float = Field(2.0, ge=0)
    deploy_seconds: float = Field(2.0, ge=0)
    test_seconds: float = Field(2.0, ge=0)
    retrieve_seconds: float = Field(1.0, ge=0)
    # Per-unit model: setting either of the first two switches deploys and test runs to it.
    component_seconds: float | None = Field(None, ge=0)
    test_class_seconds: float | None = Field(None, ge=0)
    test_parallelism: int = Field(4, ge=1, le=100)
    deploy_test_parallelism: int = Field(1, ge=1, le=100)
    retrieve_component_seconds: float | None = Field(None, ge=0)


class MetadataSeed(_Section):
    seed_dir: Path | None = None


class ScheduledJob(_Section):
    name: str
    class_name: str
    cron: str
    state: str = "WAITING"
    next_fire_time: str | None = None
    previous_fire_time: str | None = None
    times_triggered: int = 0


class LimitValue(_Section):
    Max: int = Field(ge=0)
    Remaining: int = Field(ge=0)


class FailingTest(_Section):
    test: str
    message: str = "System.AssertException: Assertion Failed"
    stack_trace: str | None = None

    @field_validator("test")
    @classmethod
    def _class_dot_method(cls, value: str) -> str:
        if value.count(".") != 1:
            raise ValueError("must be 'ClassName.methodName'")
        return value


class ApexSettings(_Section):
    default_coverage: float = Field(90.0, ge=0, le=100)
    coverage: dict[str, float] = Field(default_factory=dict)
    failing_tests: list[FailingTest] = Field(default_factory=list)


class ComponentFailure(_Section):
    type: str = "ApexClass"
    name: str
    problem: str = "Unexpected token '}'."
    line: int | None = None
    column: int | None = None


Operation = str


class HttpErrorFault(_Section):
    operation: Operation
    on_call: int = Field(1, ge=1)
    status: int | Literal["gack"] = 500
    times: int = Field(1, ge=1)

    @field_validator("status")
    @classmethod
    def _error_status(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 400 <= value <= 599:
            raise ValueError("must be an HTTP error status (400-599) or 'gack'")
        return value


class DropConnectionFault(_Section):
    operation: Operation
    on_call: int = Field(1, ge=1)
    times: int = Field(1, ge=1)


class LimitsRising(_Section):
    """Governor-limit consumption that climbs with time, to exercise the monitoring window."""

    start: Literal["after_deploy", "immediately"] = "after_deploy"
    # Percent of each limit's Max consumed per minute, taken off `/limits` Remaining.
    limits: dict[str, float] = Field(default_factory=lambda: {"DailyApiRequests": 2.0, "DailyAsyncApexExecutions": 1.0})
    # Percentage points per minute added to Governor_Limit_Snapshot__c.Value__c, by snapshot Name.
    snapshots: dict[str, float] = Field(
        default_factory=lambda: {"SOQL Queries": 10.0, "DML Statements": 8.0, "CPU Time": 6.0, "Heap Size": 4.0}
    )
    snapshot_interval_seconds: float = Field(30.0, gt=0)
    cap_percent: float = Field(100.0, gt=0, le=100)


class Faults(_Section):
    component_failures: list[ComponentFailure] = Field(default_factory=list)
    http_errors: list[HttpErrorFault] = Field(default_factory=list)
    drop_connection: list[DropConnectionFault] = Field(default_factory=list)
    abort_scheduled_jobs_on_deploy: bool = False
    apexlog_failures_after_deploy: int = Field(0, ge=0)
    limits_rising: LimitsRising | None = None
    deploy_stuck_in_queue: bool = False


class OrgSettings(_Section):
    allow_deploy_with_pending_jobs: bool = False


class Scenario(_Section):
    name: str = "default"
    description: str = ""
    org: OrgIdentity = Field(default_factory=OrgIdentity)
    durations: Durations = Field(default_factory=Durations)
    metadata: MetadataSeed = Field(default_factory=MetadataSeed)
    records: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    scheduled_jobs: list[ScheduledJob] = Field(default_factory=list)
    limits: dict[str, LimitValue] = Field(default_factory=dict)
    apex: ApexSettings = Field(default_factory=ApexSettings)
    faults: Faults = Field(default_factory=Faults)
    settings: OrgSettings = Field(default_factory=OrgSettings)
    # Folder relative paths in the scenario are resolved against (the scenario file's folder).
    base_dir: Path | None = Field(default=None, exclude=True)

    @field_validator("records")
    @classmethod
    def _sobject_names(cls, value: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        for sobject, rows in value.items():
            if not sobject.replace("_", "").isalnum():
                raise ValueError(f"{sobject!r} is not an sobject name")
            for index, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise ValueError(f"{sobject}[{index}] must be a mapping of field: value")
        return value

    @property
    def seed_dir(self) -> Path | None:
        """The metadata seed folder, resolved against the scenario file's folder."""
        if self.metadata.seed_dir is None:
            return None
        if self.metadata.seed_dir.is_absolute() or self.base_dir is None:
            return self.metadata.seed_dir
        return (self.base_dir / self.metadata.seed_dir).resolve()


def _describe_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        parts.append(f"{location}: {message}")
    return "; ".join(parts)


def scenario_from_dict(
    data: dict[str, Any] | None, *, base_dir: Path | None = None, source: str = "scenario"
) -> Scenario:
    """Validate a scenario mapping; raises ScenarioError naming `source` and the offending key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(f"{source}: {_describe_errors(error)}") from None
    scenario.base_dir = base_dir
    return scenario


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read scenario: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    except RecursionError:  # the YAML composer recurses per nesting level
        raise ScenarioError(f"{path}: not valid YAML: lists or mappings nest too deeply") from None
    except ValueError as error:  # a scalar YAML recognised but could not build, such as the date 2024-02-30
        raise ScenarioError(f"{path}: not valid YAML: {error} (quote the value if it is meant as text)") from None
    return scenario_from_dict(data, base_dir=path.parent.resolve(), source=str(path))


def resolve_scenario(scenario: Scenario | Path | str | dict[str, Any] | None) -> Scenario:
    """Accept a Scenario, a path to YAML, a built-in name ('production', 'sandbox'), a mapping or None (defaults)."""
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is None:
        return Scenario()
    if isinstance(scenario, dict):
        return scenario_from_dict(scenario)
    if isinstance(scenario, str) and not Path(scenario).exists() and builtin_scenario_path(scenario).exists():
        return load_scenario(builtin_scenario_path(scenario))
    return load_scenario(scenario)


def builtin_scenario_path(name: str) -> Path:
    """Path of a scenario shipped in `orgsim/scenarios/` (e.g. 'production')."""
    return Path(__file__).parent / "scenarios" / f"{name}.yaml"
