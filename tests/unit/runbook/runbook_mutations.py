"""Seeded mutations of the Elaro and generic runbook templates, for issue 11's campaign: deleted keys, wrong types,
huge numbers, booleans for numbers, deep nesting, aliases (billion laughs, recursive, undefined, merge), tags,
invalid UTF-8, control characters, truncation, duplicated or re-indented lines, bad crons, days and durations, long
lists. `mutants(seed)` is deterministic; `load_outcome(path)` loads one file the way every command does and classifies
the answer: "loaded", "exit 2" (RunbookError), "exit 3 <type>" (any other exception: a bug) or "hang" (over the bound).

Used by tests/unit/runbook/test_runbook_campaign.py and registered as the `runbooks` family of bench/bench_faults.py.
"""

from __future__ import annotations

import copy
import io
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from cutover.runbook import RunbookError, load_runbook, template_text
from cutover.runbook.generic import template_text as generic_template

#: A load slower than this counts as a hang (the machine is shared; a bounded load takes well under a second).
BOUND_SECONDS = 10.0

YamlData = dict[str, "YamlData"] | list["YamlData"] | str | int | float | bool | None
Path_ = tuple[str | int, ...]

_safe = YAML(typ="safe")


@dataclass(frozen=True)
class Mutant:
    template: str
    kind: str
    detail: str
    data: bytes


def _text(data: YamlData) -> str:
    stream = io.StringIO()
    _safe.dump(data, stream)
    return stream.getvalue()


def yaml_paths(node: YamlData, prefix: Path_ = ()) -> list[Path_]:
    found: list[Path_] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += yaml_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += yaml_paths(value, (*prefix, index))
    return found


def _set(document: YamlData, path: Path_, value: YamlData) -> YamlData:
    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return document


def _delete(document: YamlData, path: Path_) -> YamlData:
    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]  # type: ignore[index]
    del node[path[-1]]  # type: ignore[arg-type]
    return document


def _laughs(levels: int, width: int) -> str:
    """One flow list holding its own anchors: level n repeats level n-1 `width` times."""
    parts = ["&l0 [" + ", ".join(["x"] * width) + "]"]
    parts += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def _scalar_lines(text: str) -> list[int]:
    """Indexes of lines `key: value` with a scalar value (not a comment, list or mapping opener)."""
    lines = text.splitlines()
    return [i for i, line in enumerate(lines) if ": " in line and not line.rstrip().endswith(":") and "#" not in line]


def _replace_value(text: str, rng: random.Random, value: str) -> tuple[str, str]:
    lines = text.splitlines()
    index = rng.choice(_scalar_lines(text))
    key = lines[index].split(": ", 1)[0]
    lines[index] = f"{key}: {value}"
    return "\n".join(lines) + "\n", f"line {index + 1}: {key.strip()}: {value[:40]}"


Mutator = Callable[[random.Random, YamlData, str], tuple[str | bytes, str]]
MUTATORS: dict[str, Mutator] = {}


def mutator(name: str) -> Callable[[Mutator], Mutator]:
    def register(func: Mutator) -> Mutator:
        MUTATORS[name] = func
        return func

    return register


@mutator("delete-key")
def _m_delete(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    path = rng.choice(yaml_paths(data))
    return _text(_delete(data, path)), "/".join(map(str, path))


WRONG = [True, False, None, 0, -1, 3.5, "", "text", "TBD", [], {}, [1, "a"], {"x": 1}, {"id": None}, "ghost", "25:00"]


@mutator("wrong-type")
def _m_wrong(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    path = rng.choice(yaml_paths(data))
    value = copy.deepcopy(rng.choice(WRONG))
    return _text(_set(data, path, value)), f"{'/'.join(map(str, path))} = {value!r}"


HUGE = ["1e400", "-1e400", ".nan", ".inf", "-.inf", "99999999999999999999999999", "-99999999999", "9" * 5000, "2e-400"]
HUGE += ["0x" + "f" * 5000, "2026-01-01 25:00:00", "9999-12-31T23:59:60Z", "2026-02-30", "1_000_000", "0b1"]
HUGE += ["99999999999w", "999999999999999999999999s", "0s", "-1h", "1.5h", "367d", "0x7fffffffffffffff", "0o777"]


@mutator("huge-number")
def _m_huge(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    return _replace_value(text, rng, rng.choice(HUGE))


@mutator("bool-for-number")
def _m_bool(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    numeric = [
        p for p in yaml_paths(data) if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)
    ]
    numeric += [("version",), ("thresholds", "apex_coverage"), ("window", "duration_hours"), ("sf", "wait_minutes")]
    path = rng.choice(numeric)
    return _text(_set_creating(data, path, rng.choice([True, False]))), "/".join(map(str, path))


def _get(data: YamlData, path: Path_) -> YamlData:
    node = data
    for part in path:
        node = node[part]  # type: ignore[index]
    return node


def _set_creating(data: YamlData, path: Path_, value: YamlData) -> YamlData:
    document = copy.deepcopy(data)
    node = document
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]  # type: ignore[index,union-attr]
    node[path[-1]] = value  # type: ignore[index]
    return document


@mutator("deep-nesting")
def _m_deep(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    depth = rng.choice([10, 49, 51, 120, 600, 3000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
    return _replace_value(text, rng, opener * depth + "1" + closer * depth)


@mutator("aliases")
def _m_alias(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    top = [key for key in data if key != "target"] if isinstance(data, dict) else []
    key = rng.choice(top)
    rest = _text({k: v for k, v in data.items() if k != key}) if isinstance(data, dict) else text
    choice = rng.randrange(7)
    if choice == 0:
        return rest + f"x-unknown: {_laughs(rng.randint(6, 9), 9)}\n", "laughs under an unknown key"
    if choice == 1:
        return rest + f"{key}: {_laughs(rng.randint(5, 9), rng.randint(8, 12))}\n", f"laughs under {key}"
    if choice == 2:
        return rest + f"{key}: &r [*r]\n", f"recursive alias at {key}"
    if choice == 3:
        return rest + f"{key}: *nowhere\n", f"undefined alias at {key}"
    if choice == 4:
        return rest + f"x-base: &b {{a: 1}}\n{key}: {{<<: *b}}\n", f"merge key at {key}"
    if choice == 5:
        return text.replace("target:", "target: &t", 1) + "x-copy: *t\n", "alias of target under an unknown key"
    return text.replace("\nsecurity:\n", "\nsecurity: &sec\n", 1) + "x-again: *sec\n", "legit-looking alias"


TAGS = ["!foo", "!!python/object:os.system", "!!python/name:os.system", "!!binary", "!!set", "!!omap", "!!str"]
TAGS += ["!!int", "!!float", "!!bool", "!<tag:example.com,2000:x>", "!!timestamp", "!!null"]


@mutator("tags")
def _m_tags(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    lines = text.splitlines()
    index = rng.choice(_scalar_lines(text))
    key, value = lines[index].split(": ", 1)
    tag = rng.choice(TAGS)
    lines[index] = f"{key}: {tag} {value}"
    return "\n".join(lines) + "\n", f"line {index + 1}: {tag}"


BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82"]


@mutator("invalid-utf8")
def _m_utf8(rng: random.Random, data: YamlData, text: str) -> tuple[bytes, str]:
    raw = text.encode("utf-8")
    offset = rng.randrange(len(raw))
    bad = rng.choice(BAD_BYTES)
    return raw[:offset] + bad + raw[offset:], f"{bad!r} at byte {offset}"


@mutator("control-chars")
def _m_control(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    offset = rng.randrange(len(text))
    char = rng.choice(["\x00", "\x07", "\x1b", "\x7f", "\ufeff", "\u2028", "\ud800", "\t", "\r", "\x0c"])
    return text[:offset] + char + text[offset:], f"U+{ord(char):04X} at {offset}"


@mutator("truncation")
def _m_truncate(rng: random.Random, data: YamlData, text: str) -> tuple[bytes, str]:
    raw = text.encode("utf-8")
    offset = rng.randrange(len(raw))
    return raw[:offset], f"cut at byte {offset} of {len(raw)}"


@mutator("line-edits")
def _m_lines(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    lines = text.splitlines()
    index = rng.randrange(len(lines))
    action = rng.choice(["duplicate", "indent", "dedent", "drop", "swap"])
    if action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "indent":
        lines[index] = "   " + lines[index]
    elif action == "dedent":
        lines[index] = lines[index].lstrip()
    elif action == "drop":
        del lines[index]
    elif index + 1 < len(lines):
        lines[index], lines[index + 1] = lines[index + 1], lines[index]
    return "\n".join(lines) + "\n", f"{action} line {index + 1}"


CRON_FIELDS = ["0", "61", "*", "?", "L", "LW", "15W", "6L", "2#1", "2#6", "MON-FRI", "JAN", "0/15", "*/0", "a", "1-99"]


@mutator("crons")
def _m_cron(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    fields = ["0", "0", "2", "*", "*", "?"] + (["2030"] if rng.random() < 0.2 else [])
    for _ in range(rng.randint(1, 3)):
        fields[rng.randrange(len(fields))] = rng.choice(CRON_FIELDS)
    cron = " ".join(fields)
    job = {"name": "Job", "class": "Job", "frequency": "daily", "crons": [cron]}
    return _text(_set(data, ("scheduled_jobs",), [job])), cron


@mutator("window-and-durations")
def _m_window(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    path, value = rng.choice(
        [
            (("window", "days"), rng.choice([["friday", "friday"], ["Friday", "friday"], ["funday"], [], "monday"])),
            (("window", "start"), rng.choice(["25:00", "18:60", 1080, -1, "6pm", True])),
            (("window", "duration_hours"), rng.choice([0, 25, -2, 1e308, "4h"])),
            (("monitoring", "duration"), rng.choice(["99999999999w", "366d", "367d", 10**20, 0, "1y"])),
            (("monitoring", "interval"), rng.choice(["25h", "1s", "99999999999w"])),
            (("verify", "log_watch"), rng.choice(["99999999999w", "30m", 0, -5])),
            (("custom_steps",), [{"id": "x", "after": "deploy", "run": "echo", "timeout": rng.choice([10**30, "9w"])}]),
        ]
    )
    return _text(_set_creating(data, path, value)), f"{'/'.join(map(str, path))} = {value!r}"


@mutator("long-lists")
def _m_long(rng: random.Random, data: YamlData, text: str) -> tuple[str, str]:
    count = rng.choice([999, 1000, 1001, 1500])
    key = rng.choice(["known_issues", "signoffs", "custom_steps", "security.scan_paths"])
    if key == "security.scan_paths":
        return _text(_set(data, ("security", "scan_paths"), [f"dir{i}" for i in range(count)])), f"{key} x {count}"
    item: dict[str, YamlData] = {
        "known_issues": {"title": "t", "symptom": "s", "workaround": "w"},
        "signoffs": {"title": "t", "role": "deployment_lead"},
        "custom_steps": {"after": "deploy", "run": "echo"},
    }[key]  # type: ignore[assignment]
    items = [{"id": f"i{i}", **item} for i in range(count)]  # type: ignore[dict-item]
    return _text(_set(data, (key,), items)), f"{key} x {count}"


@mutator("random-bytes")
def _m_bytes(rng: random.Random, data: YamlData, text: str) -> tuple[bytes, str]:
    raw = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw), "flipped bytes"


def templates() -> dict[str, str]:
    return {"elaro": template_text(), "generic": generic_template("generic")}


def mutants(seed: int, per_kind: int = 19) -> Iterator[Mutant]:
    """`per_kind` mutants of each kind for each template, in a fixed order for a given seed."""
    rng = random.Random(seed)
    for name, text in templates().items():
        data: YamlData = _safe.load(text)
        for kind, mutate in MUTATORS.items():
            for _ in range(per_kind):
                if kind == "long-lists" and rng.random() < 0.75:  # each takes ~0.5 s; a few suffice
                    continue
                result, detail = mutate(rng, data, text)
                raw = result if isinstance(result, bytes) else result.encode("utf-8", "surrogatepass")
                yield Mutant(name, kind, detail, raw)


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


def load_outcome(path: Path, bound: float = BOUND_SECONDS) -> tuple[str, float, str]:
    """(outcome, seconds, message): "loaded", "exit 2", "exit 3 <ExceptionType>" or "hang"."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, bound)
    started = time.perf_counter()
    try:
        runbook = load_runbook(path)
        runbook.problems()
        outcome, message = "loaded", ""
    except RunbookError as exc:
        outcome, message = "exit 2", str(exc)
    except _Hang:
        outcome, message = "hang", f"no answer within {bound:g} s"
    except Exception as exc:
        outcome, message = f"exit 3 {type(exc).__name__}", str(exc)[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return outcome, time.perf_counter() - started, message
