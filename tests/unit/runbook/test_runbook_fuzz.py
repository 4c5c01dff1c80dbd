"""Whatever a user breaks in cutover.yaml, the loader answers with one `file:line: ...` line, never a traceback."""

from __future__ import annotations

import io
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from cutover.runbook import Runbook, RunbookError, parse_runbook, template_text

from .runbook_mutations import yaml_paths

_yaml = YAML(typ="safe")
TEMPLATE: dict[str, Any] = _yaml.load(template_text())


PATHS = yaml_paths(TEMPLATE)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["TBD", "25:00", "Mars/Base", "qa_lead", "ghost", "101", "15m", "* * *", "deploy", "friday"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _replace(document: Any, path: tuple, value: Any) -> Any:
    import copy

    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return document


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=values)
def test_any_single_change_loads_or_gives_one_located_error(path: tuple, value: Any) -> None:
    broken = _replace(TEMPLATE, path, value)
    stream = io.StringIO()
    _yaml.dump(broken, stream)
    try:
        runbook = parse_runbook(stream.getvalue(), "cutover.yaml")
    except RunbookError as exc:
        message = str(exc)
        assert "\n" not in message
        assert re.match(r"^cutover\.yaml:\d+: ", message), message
    else:
        assert isinstance(runbook, Runbook)
        runbook.problems()  # must not raise on any valid runbook


def _load_error(text: str) -> str:
    try:
        parse_runbook(text, "cutover.yaml")
    except RunbookError as exc:
        return str(exc)
    raise AssertionError("loaded")


def test_absurd_nesting_is_a_one_line_error_not_a_recursion_traceback() -> None:
    for text in (
        "target:\n  alias: " + "[" * 5000 + "]" * 5000 + "\n",
        "target: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    ):
        message = _load_error(text)
        assert "\n" not in message and message.startswith("cutover.yaml") and "nest" in message, message


def test_a_number_too_long_to_read_names_its_line() -> None:
    message = _load_error("target: {alias: x}\nthresholds:\n  apex_coverage: 1" + "0" * 5000 + "\n")
    assert message.startswith("cutover.yaml:3: ") and "\n" not in message and len(message) < 300, message


def test_an_impossible_date_names_its_line() -> None:
    message = _load_error("target: {alias: x}\nrelease:\n  version: 2024-02-30\n")
    assert message.startswith("cutover.yaml:3: ") and "2024-02-30" in message, message
