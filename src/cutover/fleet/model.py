"""FLEET.yaml: one release to many orgs, in waves.

```yaml
name: spring-release          # the fleet's id on Temporal (workflow fleet-<name>)
project: .                    # the SFDX project with its cutover.yaml, relative to this file
release: "3.0.0"              # a label for the record
orgs:                         # in the order the waves take them
  - alias: acme-prod          # the sf alias
    org_id: 00D000000000001AAA
    username: admin@acme.example   # optional: what the guard proves besides the org id
    instance_url: https://acme.my.salesforce.com
waves:
  - {name: canary, size: 1}               # failure threshold 0 % (the first wave)
  - {name: early, size: 10%, max_parallel: 5}   # 10 % by default after the canary
  - {name: rest, size: rest, max_parallel: 10, failure_threshold: 5%}
pause_between_waves: true     # a sign-off (`cutover fleet signoff`) before each wave after the first
```

Errors are `file:line: key: message` (exit 2), like the runbook's.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cutover.errors import UsageError
from cutover.fleet.rules import default_threshold, split_waves
from cutover.temporal.types import FleetInput, OrgTarget, WaveSpec

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_SIZE = re.compile(r"^(\d+|\d+(\.\d+)?%|rest)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FleetOrg(_Model):
    alias: str
    org_id: str
    username: str | None = None
    instance_url: str | None = None
    sandbox: bool | None = None

    @field_validator("org_id")
    @classmethod
    def _org_id(cls, value: str) -> str:
        if not re.fullmatch(r"00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?", value):
            raise ValueError("an org id is 15 or 18 characters starting with 00D")
        return value


class Wave(_Model):
    name: str
    size: int | str = "rest"
    max_parallel: int = Field(default=1, ge=1, le=500)
    failure_threshold: str | float | None = None  # "10%" or 0.1; default 0 for the first wave, 10 % after

    @field_validator("size")
    @classmethod
    def _size(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("size must be at least 1")
            return value
        if not _SIZE.match(value.strip().lower()):
            raise ValueError("size is a count (3), a share of the fleet (10%) or rest")
        return value.strip().lower()

    def threshold(self, index: int) -> float:
        value = self.failure_threshold
        if value is None:
            return default_threshold(index)
        if isinstance(value, str):
            text = value.strip()
            number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        else:
            number = float(value)
        if not 0 <= number <= 1:
            raise ValueError("failure_threshold is between 0% and 100%")
        return number


class FleetFile(_Model):
    name: str
    project: str = "."
    release: str = ""
    orgs: list[FleetOrg] = Field(min_length=1)
    waves: list[Wave] = Field(min_length=1)
    pause_between_waves: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("letters, digits, '.', '_' and '-' only (it names the fleet's workflow)")
        return value


class Fleet:
    """A loaded fleet file: the model, where it lives, and its waves with their orgs."""

    def __init__(self, path: Path, spec: FleetFile) -> None:
        self.path = path
        self.spec = spec
        self.project_dir = (path.parent / spec.project).resolve()
        counts = split_waves([w.size for w in spec.waves], len(spec.orgs))
        self.waves: list[tuple[Wave, list[FleetOrg]]] = []
        start = 0
        for wave, count in zip(spec.waves, counts, strict=True):
            self.waves.append((wave, spec.orgs[start : start + count]))
            start += count
        if start < len(spec.orgs):
            left = ", ".join(o.alias for o in spec.orgs[start:])
            raise UsageError(
                f"{path}: waves: {len(spec.orgs) - start} org(s) are in no wave ({left})",
                hint="end with a wave of size: rest",
            )

    @property
    def name(self) -> str:
        return self.spec.name

    def to_input(self, monitor: dict[str, str] | None = None) -> FleetInput:
        waves = [
            WaveSpec(
                name=wave.name,
                orgs=[OrgTarget(o.org_id, o.alias, o.username, o.instance_url, o.sandbox) for o in orgs],
                max_parallel=wave.max_parallel,
                threshold=wave.threshold(index),
                pause_before=self.spec.pause_between_waves and index > 0,
            )
            for index, (wave, orgs) in enumerate(self.waves)
            if orgs
        ]
        return FleetInput(self.spec.name, str(self.project_dir), self.spec.release, waves, dict(monitor or {}))


def load_fleet(path: Path) -> Fleet:
    if not path.is_file():
        raise UsageError(f"{path}: no such fleet file")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a fleet file is a mapping (name, project, release, orgs, waves)")
    try:
        spec = FleetFile.model_validate(raw)
        for index, wave in enumerate(spec.waves):
            wave.threshold(index)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(p) for p in error["loc"]]
        raise UsageError(f"{path}:{_line(data, error['loc'])}: {'.'.join(loc)}: {error['msg']}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: waves: {exc}") from None
    ids = [o.org_id[:15] for o in spec.orgs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"{path}: orgs: org id(s) listed twice: {', '.join(dupes)}")
    return Fleet(path.resolve(), spec)


def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at `loc` (the deepest one that exists)."""
    line = 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line
