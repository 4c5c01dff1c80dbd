"""What the Apex scanner looks for: guard and strip methods, the accepted SOQL enforcement, which rules run.

Helper code that reads the runbook's `security` section builds a `ScanConfig` with `ScanConfig.from_mapping`; the
defaults match the Elaro runbook (ElaroSecurityUtils guards, stripInaccessibleFields, WITH SECURITY_ENFORCED or
USER_MODE).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RULE_IDS: tuple[str, ...] = (
    "soql-not-enforced",
    "dml-without-crud-check",
    "aura-without-strip",
    "soql-injection",
    "sharing-not-declared",
)

# Words accepted for `soql_enforcement`: a mode, a list of modes (the runbook's form), or "either".
_MODE_WORDS = {
    "security_enforced": "security_enforced",
    "with_security_enforced": "security_enforced",
    "user_mode": "user_mode",
    "with_user_mode": "user_mode",
}
_BOTH = ("security_enforced", "user_mode")

DEFAULT_GUARD_METHODS = ("ElaroSecurityUtils.validateCRUDAccess",)
DEFAULT_STRIP_METHODS = ("ElaroSecurityUtils.stripInaccessibleFields",)


def normalise_enforcement(value: str | Iterable[str]) -> tuple[str, ...]:
    """Accepted WITH modes, sorted: from 'either', 'SECURITY_ENFORCED', ['SECURITY_ENFORCED', 'USER_MODE']...
    ValueError when a word is unknown or nothing is accepted."""
    words = [value] if isinstance(value, str) else list(value)
    modes: set[str] = set()
    for word in words:
        key = "_".join(str(word).strip().lower().replace("-", "_").split())
        if key in ("either", "any", "both"):
            modes.update(_BOTH)
        elif key in _MODE_WORDS:
            modes.add(_MODE_WORDS[key])
        else:
            raise ValueError(f"soql_enforcement: unknown mode {word!r} (use SECURITY_ENFORCED, USER_MODE or either)")
    if not modes:
        raise ValueError("soql_enforcement: at least one of SECURITY_ENFORCED, USER_MODE is needed")
    return tuple(sorted(modes))


@dataclass(frozen=True)
class ScanConfig:
    """Scanner settings. Method names are `Class.method` (matched case-insensitively, like Apex)."""

    guard_methods: tuple[str, ...] = DEFAULT_GUARD_METHODS
    strip_methods: tuple[str, ...] = DEFAULT_STRIP_METHODS
    soql_enforcement: tuple[str, ...] = _BOTH  # accepted WITH modes: "security_enforced", "user_mode"
    skip_test_classes: bool = True
    rules: frozenset[str] = field(default_factory=lambda: frozenset(RULE_IDS))

    def __post_init__(self) -> None:
        object.__setattr__(self, "soql_enforcement", normalise_enforcement(self.soql_enforcement))
        object.__setattr__(self, "guard_methods", tuple(self.guard_methods))
        object.__setattr__(self, "strip_methods", tuple(self.strip_methods))
        unknown = set(self.rules) - set(RULE_IDS)
        if unknown:
            raise ValueError(f"unknown scanner rule(s): {', '.join(sorted(unknown))} (known: {', '.join(RULE_IDS)})")
        object.__setattr__(self, "rules", frozenset(self.rules))

    @property
    def accepted_modes(self) -> frozenset[str]:
        return frozenset(self.soql_enforcement)

    @classmethod
    def from_mapping(cls, security: Mapping[str, Any] | None) -> ScanConfig:
        """Build from a runbook `security` section, a mapping or the runbook's pydantic model (keys: crud_guards,
        strip_methods, soql_enforcement, skip_test_classes or skip_tests, disabled_rules). Missing keys keep the
        defaults."""
        if security is not None and hasattr(security, "model_dump"):
            security = security.model_dump()
        security = security or {}
        kwargs: dict[str, Any] = {}
        if security.get("crud_guards") is not None:
            kwargs["guard_methods"] = _names(security["crud_guards"])
        if security.get("strip_methods") is not None:
            kwargs["strip_methods"] = _names(security["strip_methods"])
        if security.get("soql_enforcement") is not None:
            kwargs["soql_enforcement"] = security["soql_enforcement"]
        for key in ("skip_test_classes", "skip_tests"):
            if security.get(key) is not None:
                kwargs["skip_test_classes"] = bool(security[key])
        if security.get("disabled_rules"):
            kwargs["rules"] = frozenset(RULE_IDS) - set(_names(security["disabled_rules"]))
        return cls(**kwargs)


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Accept a list of names or one string; strip a trailing '()' people write in docs."""
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(item).strip().removesuffix("()") for item in items if str(item).strip())
