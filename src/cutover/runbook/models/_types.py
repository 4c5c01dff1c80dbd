"""Small value types of the runbook models: ids, durations, clock times, percentages, commands."""

from __future__ import annotations

import re
import shlex
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# ---------------------------------------------------------------------------------------------------------------------
# Small value types
# ---------------------------------------------------------------------------------------------------------------------

STAGES: tuple[str, ...] = (
    "preflight",
    "guard",
    "backup",
    "release",
    "validate",
    "deploy",
    "verify",
    "monitor",
    "post_deploy",
)
Stage = Literal["preflight", "guard", "backup", "release", "validate", "deploy", "verify", "monitor", "post_deploy"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
TestLevel = Literal["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"]
# A deploy also takes RunRelevantTests (API 66.0+: Salesforce picks the tests); `sf apex run test` does not.
DeployTestLevel = Literal["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg", "RunRelevantTests"]
LimitName = Literal["soql", "dml", "cpu", "heap"]

_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PLACEHOLDER_RE = re.compile(r"{([^{}]*)}")

#: What counts as "nobody filled this in" in a contact field.
UNSET_CONTACT_VALUES = frozenset({"", "tbd", "tba", "n/a", "todo", "?"})


class LocatedValueError(ValueError):
    """A validation error that knows which key (below the model that raised it) is at fault.

    pydantic keeps the exception object in the error's `ctx["error"]`; the loader appends `loc` to the error's own
    location so the message names e.g. `signoffs[3].role` and its line, not just the top of the file.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _identifier(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r} is not a valid id (use lower-case letters, digits, '-' or '_')")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
RoleId = Identifier


#: The longest duration a runbook may name (monitoring windows, timeouts, response times): one year.
MAX_DURATION = timedelta(days=366)
MAX_DURATION_TEXT = "366d"


def parse_duration(text: str) -> timedelta:
    """'24h', '15m', '1h30m', '2d', '45s', '1w' → timedelta. Raises ValueError on anything else, and on durations
    longer than MAX_DURATION (366 days), so a huge number never overflows."""
    match = _DURATION_RE.match(text.strip()) if len(text) <= 64 else None
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text[:64]!r} is not a duration (examples: 30s, 15m, 1h30m, 24h, 2d)")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"{text.strip()!r} is longer than the maximum duration ({MAX_DURATION_TEXT})")
    return timedelta(seconds=total)


def _duration(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m or 24h")
    if isinstance(value, int):  # bare numbers are seconds, like `timeout: 600`
        if value <= 0:
            raise ValueError("a duration must be positive")
        if value > MAX_DURATION.total_seconds():
            raise ValueError(f"{value} seconds is longer than the maximum duration ({MAX_DURATION_TEXT})")
        return f"{value}s"
    if isinstance(value, str):
        if parse_duration(value) <= timedelta(0):
            raise ValueError("a duration must be positive")
        return value.strip()
    raise ValueError("expected a duration such as 15m or 24h")


#: A duration kept as the user wrote it ("24h"), validated; use `parse_duration()` to compute with it.
Duration = Annotated[str, BeforeValidator(_duration)]


def _clock_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 readers turn 18:00 into 1080 (sexagesimal); accept it rather than confuse people.
        return f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not _TIME_RE.match(value.strip()):
        raise ValueError(f'{value!r} is not a time of day in 24-hour HH:MM form (e.g. "18:00")')
    return value.strip()


ClockTime = Annotated[str, BeforeValidator(_clock_time)]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML `true` is not 1
        raise ValueError(f"expected a number, not {str(value).lower()}")
    return value


#: Validator for number fields: true/false are refused instead of read as 1/0.
NotBool = BeforeValidator(_not_bool)
#: A whole number (never a boolean).
Count = Annotated[int, NotBool]


def _percentage(value: Any) -> Any:
    _not_bool(value)
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1].strip()
        try:
            value = float(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a percentage") from exc
    return value


Percentage = Annotated[float, BeforeValidator(_percentage), Field(ge=0, le=100)]


def _command(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a command cannot be empty")
        try:
            shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}") from exc
        return value
    if isinstance(value, list):
        if not value or not all(isinstance(part, str) for part in value) or not value[0].strip():
            raise ValueError("a command list must be a non-empty list of strings (argv)")
        return value
    raise ValueError("expected a command string or an argv list of strings")


#: A command: a string (split like a POSIX shell, never run through one) or an argv list.
Command = Annotated[str | list[str], BeforeValidator(_command)]


def _project_path(value: str) -> str:
    """A path the runbook names is relative to the project and stays inside it: cutover reads, writes and deploys
    from it, so `/etc/...`, `~/...` or `../..` would reach outside what the run records and checks."""
    text = value.strip()
    if not text:
        raise ValueError("a path must not be empty")
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text):
        raise ValueError(f"{value!r} must be relative to the project folder")
    if ".." in parts:
        raise ValueError(f"{value!r} leaves the project folder ('..'): name a path inside the project")
    return text


ProjectPath = Annotated[str, AfterValidator(_project_path)]


def command_argv(command: str | list[str]) -> list[str]:
    """The argv of a Command (strings are split like a POSIX shell but never run through one)."""
    return shlex.split(command) if isinstance(command, str) else list(command)


def command_text(command: str | list[str]) -> str:
    """A Command as one printable line."""
    return command if isinstance(command, str) else shlex.join(command)


def is_unset_contact(value: str | None) -> bool:
    """A placeholder (TBD, n/a, ?, empty...): the one rule is in cutover.checks.contacts."""
    from cutover.checks.contacts import is_unset

    return is_unset(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
