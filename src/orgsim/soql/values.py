"""Reading stored values: raw field lookup, comparable normalised forms per field category, date functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from orgsim.schema import FieldDef


def _raw(record: dict[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lower = name.lower()
    for key, value in record.items():
        if key.lower() == lower:
            return value
    return None


def _field_value(record: dict[str, Any], f: FieldDef) -> Any:
    value = _raw(record, f.name)
    if value is None and f.name == "Name" and ("FirstName" in record or "LastName" in record):
        # Person names: the store may keep only the parts.
        parts = [record.get("FirstName"), record.get("LastName")]
        value = " ".join(p for p in parts if p) or None
    return value


# --- value normalisation for comparison and sorting ---------------------------------------------------------
def _category(f_type: str) -> str:
    if f_type in ("id", "reference"):
        return "id"
    if f_type in ("int", "long", "double", "currency", "percent"):
        return "number"
    if f_type in ("boolean", "date", "datetime", "time"):
        return f_type
    return "text"


def _to_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            if len(value) > 10:
                return _to_datetime(value).date()  # type: ignore[union-attr]
            return date.fromisoformat(value[:10])
        except (ValueError, AttributeError):
            return None
    return None


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.strip()
    if len(text) == 10:
        day = _to_date(text)
        return datetime.combine(day, time(), tzinfo=UTC) if day else None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _normalize(value: Any, category: str) -> Any:
    """A stored value in a comparable form for its field category; None when absent or unreadable."""
    if value is None:
        return None
    try:
        if category == "text":
            return (value if isinstance(value, str) else str(value)).casefold()
        if category == "id":
            return str(value)[:15]
        if category == "number":
            if isinstance(value, bool):
                return None
            return float(value)
        if category == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            return None
        if category == "date":
            return _to_date(value)
        if category == "datetime":
            return _to_datetime(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _date_function(function: str, value: Any) -> Any:
    """SOQL date functions, evaluated in UTC (orgsim's org time zone). Weeks start on Sunday."""
    moment = _to_datetime(value)
    if moment is None:
        return None
    day = moment.date()
    if function == "DAY_ONLY":
        return day.isoformat()
    if function == "HOUR_IN_DAY":
        return moment.hour
    year_day = day.timetuple().tm_yday
    results = {
        "CALENDAR_YEAR": day.year,
        "FISCAL_YEAR": day.year,
        "CALENDAR_QUARTER": (day.month - 1) // 3 + 1,
        "FISCAL_QUARTER": (day.month - 1) // 3 + 1,
        "CALENDAR_MONTH": day.month,
        "FISCAL_MONTH": day.month,
        "DAY_IN_MONTH": day.day,
        "DAY_IN_WEEK": (day.weekday() + 1) % 7 + 1,
        "DAY_IN_YEAR": year_day,
        "WEEK_IN_MONTH": (day.day - 1) // 7 + 1,
        "WEEK_IN_YEAR": (year_day - 1) // 7 + 1,
    }
    return results[function]
