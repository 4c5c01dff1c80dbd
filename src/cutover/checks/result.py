"""The result of one pre-deployment gate, and the evidence that backs it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cutover.redact import redact, redact_obj


class GateStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"
    WAITING_SIGNOFF = "waiting_signoff"
    SKIPPED = "skipped"


#: A blocking gate in one of these states lets the deployment go ahead.
GO_STATUSES = frozenset({GateStatus.PASSED, GateStatus.WAIVED})


@dataclass(frozen=True)
class Evidence:
    """One piece of proof for a gate: a command's output, a JSON report. Content is redacted on creation."""

    name: str  # a file name, e.g. "lint.log" or "secrets.json"
    content: str

    @classmethod
    def text(cls, name: str, text: str) -> Evidence:
        return cls(name=name, content=redact(text))

    @classmethod
    def json(cls, name: str, data: Any) -> Evidence:
        return cls(name=name, content=json.dumps(redact_obj(data), indent=2, sort_keys=True) + "\n")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "bytes": len(self.content.encode("utf-8"))}


@dataclass(frozen=True)
class GateResult:
    """What a gate found. `detail` is one human line (redacted); `evidence` backs it up; `output_tail` holds the last
    lines of a failed command's error output (redacted), shown under the detail."""

    id: str
    title: str
    status: GateStatus
    blocking: bool
    detail: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    output_tail: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", GateStatus(self.status))
        object.__setattr__(self, "detail", redact(self.detail))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        object.__setattr__(self, "output_tail", tuple(redact(line) for line in self.output_tail))

    @property
    def full_detail(self) -> str:
        """The detail, then the output tail (indented, one line each) when there is one."""
        return "\n".join([self.detail, *(f"    | {line}" for line in self.output_tail)])

    @property
    def lets_deploy(self) -> bool:
        """True unless this gate blocks the deployment."""
        return not self.blocking or self.status in GO_STATUSES

    def with_identity(self, gate_id: str, title: str, blocking: bool) -> GateResult:
        return replace(self, id=gate_id, title=title, blocking=blocking)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "blocking": self.blocking,
            "detail": self.detail,
            "evidence": [item.summary() for item in self.evidence],
            "output_tail": list(self.output_tail),
        }


def passed(gate_id: str, title: str, detail: str, *evidence: Evidence, blocking: bool = True) -> GateResult:
    return GateResult(gate_id, title, GateStatus.PASSED, blocking, detail, evidence)


def failed(
    gate_id: str, title: str, detail: str, *evidence: Evidence, blocking: bool = True, tail: tuple[str, ...] = ()
) -> GateResult:
    return GateResult(gate_id, title, GateStatus.FAILED, blocking, detail, evidence, tail)


def skipped(gate_id: str, title: str, detail: str, *evidence: Evidence, blocking: bool = False) -> GateResult:
    return GateResult(gate_id, title, GateStatus.SKIPPED, blocking, detail, evidence)


def waiting(gate_id: str, title: str, detail: str, *evidence: Evidence, blocking: bool = True) -> GateResult:
    return GateResult(gate_id, title, GateStatus.WAITING_SIGNOFF, blocking, detail, evidence)
