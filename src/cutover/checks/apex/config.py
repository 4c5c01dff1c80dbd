"""What the Apex scanner looks for: guard and strip methods, the accepted SOQL enforcement, which rules run.

Helper code that reads the runbook's `security` section builds a `ScanConfig` with `ScanConfig.from_mapping`. The
defaults name nothing project-specific: no guard methods (the platform's describe checks, `as user` DML and
AccessLevel.USER_MODE always count), `Security.stripInaccessible` as the strip method, WITH SECURITY_ENFORCED or
USER_MODE, every rule an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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

DEFAULT_GUARD_METHODS: tuple[str, ...] = ()
DEFAULT_STRIP_METHODS: tuple[str, ...] = ("Security.stripInaccessible",)
SEVERITIES = ("error", "warning", "off")


class ScanConfigError(ValueError):
    """A scanner setting the user wrote is wrong (an unknown rule id or severity, an unknown SOQL mode)."""


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
            raise ScanConfigError(
                f"soql_enforcement: unknown mode {word!r} (use SECURITY_ENFORCED, USER_MODE or either)"
            )
    if not modes:
        raise ScanConfigError("soql_enforcement: at least one of SECURITY_ENFORCED, USER_MODE is needed")
    return tuple(sorted(modes))


@dataclass(frozen=True)
class ScanConfig:
    """Scanner settings. Method names are `Class.method` (matched case-insensitively, like Apex).

    `rules` are the rules that run; `warning_rules` those of them whose findings are warnings (reported, but they
    neither fail the preflight gate nor `cutover scan apex`'s exit status). `safe_types` are extra lower-case type
    names whose values cannot carry a quote into SOQL (scan_paths adds the project's enums)."""

    guard_methods: tuple[str, ...] = DEFAULT_GUARD_METHODS
    strip_methods: tuple[str, ...] = DEFAULT_STRIP_METHODS
    soql_enforcement: tuple[str, ...] = _BOTH  # accepted WITH modes: "security_enforced", "user_mode"
    skip_test_classes: bool = True
    rules: frozenset[str] = field(default_factory=lambda: frozenset(RULE_IDS))
    warning_rules: frozenset[str] = frozenset()
    safe_types: frozenset[str] = frozenset()
    # `Class.method`s of the project whose returned records come only from enforced queries or strip calls
    # (scan_paths learns them, like the project's own guard and strip helpers).
    safe_record_methods: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "soql_enforcement", normalise_enforcement(self.soql_enforcement))
        object.__setattr__(self, "guard_methods", tuple(self.guard_methods))
        object.__setattr__(self, "strip_methods", tuple(self.strip_methods))
        check_rule_ids(set(self.rules) | set(self.warning_rules))
        object.__setattr__(self, "rules", frozenset(self.rules))
        object.__setattr__(self, "warning_rules", frozenset(self.warning_rules))
        object.__setattr__(self, "safe_types", frozenset(t.lower() for t in self.safe_types))
        object.__setattr__(self, "safe_record_methods", frozenset(m.lower() for m in self.safe_record_methods))

    def severity(self, rule: str) -> str:
        """'error', 'warning', or 'off' for a rule that does not run."""
        if rule not in self.rules:
            return "off"
        return "warning" if rule in self.warning_rules else "error"

    def with_severities(self, severities: Mapping[str, str]) -> ScanConfig:
        """This config with rule id -> 'error' | 'warning' | 'off' applied (the runbook's `security.rules`).
        ScanConfigError names an unknown rule id or severity."""
        check_rule_ids(set(severities))
        rules, warnings = set(self.rules), set(self.warning_rules)
        for rule, value in severities.items():
            level = str(value).strip().lower()
            if level not in SEVERITIES:
                raise ScanConfigError(f"security.rules.{rule}: unknown severity {value!r} (use error, warning or off)")
            if level == "off":
                rules.discard(rule)
            else:
                rules.add(rule)
            if level == "warning":
                warnings.add(rule)
            else:
                warnings.discard(rule)
        return replace(self, rules=frozenset(rules), warning_rules=frozenset(warnings))

    @property
    def accepted_modes(self) -> frozenset[str]:
        return frozenset(self.soql_enforcement)

    @classmethod
    def from_mapping(cls, security: Mapping[str, Any] | None) -> ScanConfig:
        """Build from a runbook `security` section, a mapping or the runbook's pydantic model (keys: crud_guards,
        strip_methods, soql_enforcement, skip_test_classes or skip_tests, rules, disabled_rules). Missing keys keep
        the defaults. ScanConfigError (a ValueError) names an unknown rule id, severity or SOQL mode.

        From the pydantic model only the keys the runbook wrote count: settings it leaves out get the scanner's
        generic defaults, whatever defaults the runbook model carries."""
        if security is not None and hasattr(security, "model_dump"):
            written = getattr(security, "model_fields_set", None)
            dumped = security.model_dump()
            security = dumped if written is None else {k: v for k, v in dumped.items() if k in written}
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
            disabled = set(_names(security["disabled_rules"]))
            check_rule_ids(disabled, "security.disabled_rules")
            kwargs["rules"] = frozenset(RULE_IDS) - disabled
        config = cls(**kwargs)
        severities = security.get("rules")
        if severities:
            if not isinstance(severities, Mapping):
                raise ScanConfigError("security.rules must map rule ids to error, warning or off")
            config = config.with_severities({str(k): str(v) for k, v in severities.items()})
        return config


def check_rule_ids(ids: Iterable[str], where: str = "security.rules") -> None:
    unknown = sorted(set(ids) - set(RULE_IDS))
    if unknown:
        raise ScanConfigError(
            f"{where}: unknown Apex scanner rule(s) {', '.join(unknown)} (known: {', '.join(RULE_IDS)})"
        )


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Accept a list of names or one string; strip a trailing '()' people write in docs."""
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(item).strip().removesuffix("()") for item in items if str(item).strip())
