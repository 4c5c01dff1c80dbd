"""Simulated Apex test execution and code coverage.

orgsim does NOT compile or run Apex. This module reads the bodies of the Apex classes and triggers deployed to the
org and produces a plausible, fully deterministic test run from them:

* Test discovery: a class is a test class when its declaration carries ``@isTest`` (any case, with or without
  arguments such as ``@IsTest(SeeAllData=true)``). Its test methods are the members declared with an ``@isTest``
  annotation or the legacy ``testMethod`` modifier. Comments and string literals are blanked out first, so an
  ``@isTest`` inside a comment or a string never counts.
* Outcomes: every discovered test method passes, unless the scenario names it in ``apex.failing_tests``; then it fails
  with the configured message and a stack trace shaped like Salesforce's (``Class.X.m: line N, column 1``).
* Coverage: each non-test class or trigger gets the percentage ``apex.coverage[Name]`` from the scenario, else
  ``apex.default_coverage`` (90 when unset). Its "locations" are its executable lines (rule in
  :func:`executable_lines`); ``numLocationsNotCovered = round(locations * (100 - pct) / 100)`` and the uncovered lines
  are spread evenly over the executable lines, so the same inputs always give the same answer.
* Run time: each method "takes" a deterministic 5-44 ms derived from its name.
* RunRelevantTests runs the test classes the caller names (``orgsim.relevant`` picks them for a deploy).

Nothing here looks at what the code does: a test with a failing assertion passes unless the scenario says otherwise.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_COVERAGE = 90
DEFAULT_FAILURE_MESSAGE = "System.AssertException: Assertion Failed"
LEVELS = ("NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg", "RunRelevantTests")


class UnknownTestError(ValueError):
    """RunSpecifiedTests named a class or method that is not a deployed test."""


@dataclass(frozen=True)
class ApexSource:
    """One deployed Apex class or trigger, as apexsim needs it."""

    name: str
    body: str
    kind: str = "Class"  # "Class" or "Trigger", as in CodeCoverageResult.type
    id: str = ""
    namespace: str | None = None


@dataclass(frozen=True)
class TestMethod:
    name: str
    line: int


@dataclass(frozen=True)
class TestOutcome:
    class_name: str
    class_id: str
    method: str
    outcome: str  # "Pass" | "Fail"
    message: str | None
    stack_trace: str | None
    run_time_ms: int
    namespace: str | None = None


@dataclass(frozen=True)
class ClassCoverage:
    name: str
    id: str
    kind: str
    lines: tuple[int, ...]
    uncovered: tuple[int, ...]
    namespace: str | None = None

    @property
    def num_locations(self) -> int:
        return len(self.lines)

    @property
    def num_not_covered(self) -> int:
        return len(self.uncovered)

    @property
    def covered_lines(self) -> tuple[int, ...]:
        missing = set(self.uncovered)
        return tuple(line for line in self.lines if line not in missing)

    @property
    def percent(self) -> float:
        # Salesforce and the CLI treat a class without locations as fully covered.
        if not self.lines:
            return 100.0
        return 100.0 * (len(self.lines) - len(self.uncovered)) / len(self.lines)


@dataclass
class SimulatedRun:
    level: str
    tests: list[TestOutcome] = field(default_factory=list)
    coverage: list[ClassCoverage] = field(default_factory=list)

    @property
    def num_tests(self) -> int:
        return len(self.tests)

    @property
    def failures(self) -> list[TestOutcome]:
        return [t for t in self.tests if t.outcome != "Pass"]

    @property
    def successes(self) -> list[TestOutcome]:
        return [t for t in self.tests if t.outcome == "Pass"]

    @property
    def total_time_ms(self) -> int:
        return sum(t.run_time_ms for t in self.tests)

    @property
    def test_class_names(self) -> list[str]:
        return list(dict.fromkeys(t.class_name for t in self.tests))

    @property
    def org_wide_percent(self) -> float:
        """Covered locations over all locations of the classes measured (100 when there are none)."""
        total = sum(c.num_locations for c in self.coverage)
        if total == 0:
            return 100.0
        covered = sum(c.num_locations - c.num_not_covered for c in self.coverage)
        return 100.0 * covered / total


# --------------------------------------------------------------------------------------------------------------------
# Lexing: blank out comments and string literals while keeping every newline, so line numbers stay true.


# Comments, then single-quoted strings (backslash escapes, never spanning lines; an unterminated one ends the line).
_LEXEME = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)|'(?:\\[^\n]|[^'\\\n])*(?:'|$)", re.DOTALL | re.MULTILINE)
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank_lexeme(match: re.Match[str]) -> str:
    lexeme = match.group(0)
    if not lexeme.startswith("'"):
        return _NOT_NEWLINE.sub(" ", lexeme)
    closed = len(lexeme) > 1 and lexeme.endswith("'")
    inner = lexeme[1:-1] if closed else lexeme[1:]
    return "'" + " " * len(inner) + ("'" if closed else "")


@functools.lru_cache(maxsize=4096)  # the same bodies are lexed for discovery, coverage and mirrors
def blank_comments_and_strings(source: str) -> str:
    """Return ``source`` with comments and string-literal contents replaced by spaces (newlines kept)."""
    return _LEXEME.sub(_blank_lexeme, source)


_ANNOTATION = re.compile(r"@\s*([A-Za-z_]\w*)\s*(\([^)]*\))?")
_IDENT_BEFORE_PAREN = re.compile(r"([A-Za-z_]\w*)\s*\($")
_CLASS_KEYWORD = re.compile(r"\b(class|interface|enum)\b", re.IGNORECASE)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _top_level_header(code: str) -> tuple[str, int] | None:
    """The text before the first top-level ``{`` (the class or trigger declaration) and its offset."""
    brace = code.find("{")
    if brace == -1:
        return None
    return code[:brace], brace


def annotations_in(header: str) -> set[str]:
    return {m.group(1).lower() for m in _ANNOTATION.finditer(header)}


def is_test_class(body: str) -> bool:
    code = blank_comments_and_strings(body)
    top = _top_level_header(code)
    if top is None:
        return False
    header, _ = top
    if not _CLASS_KEYWORD.search(header):
        return False
    return "istest" in annotations_in(header)


def _member_headers(code: str) -> Iterable[tuple[str, int]]:
    """Yield (header text, end offset) for every member that opens a block directly inside the top-level class.

    A header is the text since the previous ``;``, ``{`` or ``}`` at class-member depth, up to the ``{`` that opens
    the member's body: a method, constructor, inner class or property.
    """
    depth = 0
    segment_start = 0
    for i, ch in enumerate(code):
        if ch == "{":
            if depth == 1:
                yield code[segment_start:i], i
            depth += 1
            if depth == 1:
                segment_start = i + 1
        elif ch == "}":
            depth -= 1
            if depth == 1:
                segment_start = i + 1
        elif ch == ";" and depth == 1:
            segment_start = i + 1


def find_test_methods(body: str) -> list[TestMethod]:
    """Test methods of a test class (empty when the class is not a test class)."""
    if not is_test_class(body):
        return []
    code = blank_comments_and_strings(body)
    methods: list[TestMethod] = []
    for header, end in _member_headers(code):
        if _CLASS_KEYWORD.search(_ANNOTATION.sub(" ", header)):
            continue  # inner class: Salesforce does not run test methods declared in inner classes
        annotations = annotations_in(header)
        without_annotations = _ANNOTATION.sub(lambda m: " " * len(m.group(0)), header)
        paren = without_annotations.find("(")
        if paren == -1:
            continue  # property or initializer block
        match = _IDENT_BEFORE_PAREN.search(without_annotations[: paren + 1])
        if match is None:
            continue
        words = {w.lower() for w in re.findall(r"[A-Za-z_]\w*", without_annotations[:paren])}
        if "istest" in annotations or "testmethod" in words:
            offset = end - len(header) + match.start(1)
            methods.append(TestMethod(name=match.group(1), line=_line_of(code, offset)))
    return methods


_PUNCTUATION_ONLY = re.compile(r"^[\s{}()\[\];,]*$")
_BLOCK_OPENER_ONLY = re.compile(r"^[}\s]*(else|try|finally|do)?[\s{]*$", re.IGNORECASE)


def executable_lines(body: str, kind: str = "Class") -> list[int]:
    """Line numbers that count as coverage locations.

    Rule (simulated, documented in docs/orgsim.md): after blanking comments and strings, a line is a location when
    it starts inside a method or trigger body (brace depth >= 2 for a class, >= 1 for a trigger) or is a field
    initialiser at class level (contains ``=`` and ends with ``;``), and it is not made only of braces and
    punctuation, nor only ``else``/``try``/``finally``/``do`` with braces. Declarations (class, method signatures,
    annotations), blank lines and comments are never locations. Each line of a multi-line statement counts.
    """
    code = blank_comments_and_strings(body)
    body_depth = 1 if kind == "Trigger" else 2
    lines: list[int] = []
    depth = 0
    for number, text in enumerate(code.split("\n"), start=1):
        stripped = text.strip()
        start_depth = depth
        # A line that starts by closing a block belongs to the enclosing depth.
        leading_closers = len(stripped) - len(stripped.lstrip("}"))
        effective = start_depth - leading_closers
        for ch in text:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
        if not stripped or _PUNCTUATION_ONLY.match(stripped) or _BLOCK_OPENER_ONLY.match(stripped):
            continue
        if stripped.startswith("@"):
            continue
        field_initialiser = kind != "Trigger" and effective == 1 and "=" in stripped and stripped.endswith(";")
        if effective >= body_depth or field_initialiser:
            lines.append(number)
    return lines


def choose_uncovered(lines: Sequence[int], percent: float) -> tuple[int, ...]:
    """Pick ``round(len(lines) * (100 - percent) / 100)`` lines, spread evenly, deterministically."""
    count = len(lines)
    pct = max(0.0, min(100.0, float(percent)))
    missing = round(count * (100 - pct) / 100)
    if missing <= 0:
        return ()
    if missing >= count:
        return tuple(lines)
    picked = {int((i + 0.5) * count / missing) for i in range(missing)}
    return tuple(lines[i] for i in sorted(picked))


def method_run_time_ms(class_name: str, method: str) -> int:
    return 5 + zlib.crc32(f"{class_name}.{method}".lower().encode()) % 40


# --------------------------------------------------------------------------------------------------------------------
# Scenario settings (the scenario may be a pydantic model, a plain object or a dict)


def _setting(obj: Any, dotted: str, default: Any = None) -> Any:
    current = obj
    for part in dotted.split("."):
        if current is None:
            return default
        current = current.get(part) if isinstance(current, Mapping) else getattr(current, part, None)
    return default if current is None else current


@dataclass(frozen=True)
class FailingTest:
    class_name: str
    method: str
    message: str
    line: int | None = None
    stack_trace: str | None = None


def failing_tests_from(scenario: Any) -> dict[tuple[str, str], FailingTest]:
    """Normalise ``apex.failing_tests``: a list of "Class.method" strings or dicts, or a mapping name → message/dict."""
    raw = _setting(scenario, "apex.failing_tests", None) or []
    entries: list[tuple[str, Any]] = []
    if isinstance(raw, Mapping):
        entries = [(str(k), v) for k, v in raw.items()]
    else:
        for item in raw:
            if isinstance(item, str):
                entries.append((item, None))
            else:
                data = item if isinstance(item, Mapping) else getattr(item, "__dict__", {})
                name = data.get("test") or data.get("name") or ""
                if not name and data.get("class_name"):
                    name = f"{data.get('class_name')}.{data.get('method') or data.get('method_name')}"
                entries.append((str(name), data))
    result: dict[tuple[str, str], FailingTest] = {}
    for name, detail in entries:
        if "." not in name:
            continue
        class_name, method = name.rsplit(".", 1)
        if isinstance(detail, str):
            detail = {"message": detail}
        elif detail is not None and not isinstance(detail, Mapping):
            detail = {k: getattr(detail, k, None) for k in ("message", "line", "stack_trace")}
        detail = detail or {}
        result[(class_name.lower(), method.lower())] = FailingTest(
            class_name=class_name,
            method=method,
            message=str(detail.get("message") or DEFAULT_FAILURE_MESSAGE),
            line=int(detail["line"]) if detail.get("line") is not None else None,
            stack_trace=detail.get("stack_trace") or detail.get("stackTrace"),
        )
    return result


def coverage_percent_for(scenario: Any, class_name: str) -> float:
    per_class = _setting(scenario, "apex.coverage", None) or {}
    if isinstance(per_class, Mapping):
        for key, value in per_class.items():
            if str(key).lower() == class_name.lower():
                return float(value)
    return float(_setting(scenario, "apex.default_coverage", DEFAULT_COVERAGE))


# --------------------------------------------------------------------------------------------------------------------
# Running


def _parse_specified(tests: Iterable[Any] | None) -> dict[str, set[str] | None]:
    """Accept "Class", "Class.method", or {"className": ..., "testMethods": [...]} entries."""
    wanted: dict[str, set[str] | None] = {}
    for entry in tests or []:
        if isinstance(entry, Mapping):
            name = str(entry.get("className") or entry.get("classId") or "")
            methods = entry.get("testMethods") or []
            if not methods:
                wanted[name.lower()] = None
            elif wanted.get(name.lower(), set()) is not None:
                wanted.setdefault(name.lower(), set()).update(m.lower() for m in methods)  # type: ignore[union-attr]
            continue
        name = str(entry).strip()
        if not name:
            continue
        if "." in name:
            class_name, method = name.split(".", 1)
            current = wanted.get(class_name.lower(), set())
            if current is not None:
                current.add(method.lower())
                wanted[class_name.lower()] = current
        else:
            wanted[name.lower()] = None
    return wanted


# --------------------------------------------------------------------------------------------------------------------
# What a test touches


_TRIGGER_OBJECT = re.compile(r"^\s*trigger\s+\w+\s+on\s+(\w+)", re.IGNORECASE | re.MULTILINE)


def identifiers(body: str) -> set[str]:
    """Lower-case identifiers of ``body`` outside comments and strings."""
    return {w.lower() for w in re.findall(r"[A-Za-z_]\w*", blank_comments_and_strings(body))}


def trigger_object(body: str) -> str | None:
    """The object a trigger is on (``trigger X on Account (...)`` gives ``account``)."""
    found = _TRIGGER_OBJECT.search(blank_comments_and_strings(body))
    return found.group(1).lower() if found else None


def simulate(
    sources: Sequence[ApexSource],
    scenario: Any,
    *,
    level: str,
    class_names: Iterable[str] | None = None,
    tests: Iterable[Any] | None = None,
) -> SimulatedRun:
    """Simulate a test run over ``sources`` (the org's Apex as it is, or as it would be after a deploy)."""
    if level not in LEVELS:
        raise ValueError(f"unknown test level {level!r}; expected one of {', '.join(LEVELS)}")
    run = SimulatedRun(level=level)
    if level == "NoTestRun":
        return run
    failing = failing_tests_from(scenario)
    test_classes = [(s, find_test_methods(s.body)) for s in sources if s.kind == "Class" and is_test_class(s.body)]
    by_name = {s.name.lower(): (s, methods) for s, methods in test_classes}

    selected: list[tuple[ApexSource, list[TestMethod]]] = []
    if level == "RunRelevantTests":
        # the caller picks the classes (orgsim.relevant.relevant_test_classes); none relevant runs none
        wanted_classes = {name.lower() for name in class_names or []}
        selected = [(s, methods) for s, methods in test_classes if s.name.lower() in wanted_classes]
    elif level == "RunSpecifiedTests":
        wanted = _parse_specified([*(class_names or []), *(tests or [])])
        if not wanted:
            raise UnknownTestError("RunSpecifiedTests needs at least one test class")
        for name, methods in wanted.items():
            if name not in by_name:
                raise UnknownTestError(f"Apex test class {name} does not exist or is not a test class")
            source, discovered = by_name[name]
            if methods is not None:
                known = {m.name.lower() for m in discovered}
                unknown = sorted(methods - known)
                if unknown:
                    raise UnknownTestError(f"Apex test method {source.name}.{unknown[0]} does not exist")
                discovered = [m for m in discovered if m.name.lower() in methods]
            selected.append((source, discovered))
    else:
        for source, methods in test_classes:
            # RunLocalTests skips tests from installed (namespaced) packages; RunAllTestsInOrg includes them.
            if level == "RunLocalTests" and source.namespace:
                continue
            selected.append((source, methods))

    for source, methods in selected:
        for method in methods:
            failure = failing.get((source.name.lower(), method.name.lower()))
            if failure is None:
                run.tests.append(
                    TestOutcome(
                        source.name,
                        source.id,
                        method.name,
                        "Pass",
                        None,
                        None,
                        method_run_time_ms(source.name, method.name),
                        source.namespace,
                    )
                )
            else:
                line = failure.line if failure.line is not None else method.line + 1
                trace = failure.stack_trace or f"Class.{source.name}.{method.name}: line {line}, column 1"
                run.tests.append(
                    TestOutcome(
                        source.name,
                        source.id,
                        method.name,
                        "Fail",
                        failure.message,
                        trace,
                        method_run_time_ms(source.name, method.name),
                        source.namespace,
                    )
                )

    measured = [s for s in sources if not (s.kind == "Class" and is_test_class(s.body))]
    if level in ("RunSpecifiedTests", "RunRelevantTests"):
        # Only the code the tests run mention is "touched"; a name match stands in for execution. A trigger is
        # touched when a test mentions it or the object it is on (inserting an Account fires Account triggers).
        mentioned: set[str] = set()
        for source, _ in selected:
            mentioned |= identifiers(source.body)
        measured = [
            s
            for s in measured
            if s.name.lower() in mentioned or (s.kind == "Trigger" and (trigger_object(s.body) or "") in mentioned)
        ]
    for source in measured:
        lines = executable_lines(source.body, source.kind)
        pct = coverage_percent_for(scenario, source.name)
        run.coverage.append(
            ClassCoverage(
                source.name, source.id, source.kind, tuple(lines), choose_uncovered(lines, pct), source.namespace
            )
        )
    return run


def run_tests(
    org: Any,
    *,
    level: str,
    class_names: Iterable[str] | None = None,
    tests: Iterable[Any] | None = None,
) -> SimulatedRun:
    """Simulate a test run against the Apex currently deployed to ``org`` (used by deploys and Tooling test runs)."""
    from orgsim.metadata.store import apex_sources

    return simulate(apex_sources(org), org.scenario, level=level, class_names=class_names, tests=tests)
