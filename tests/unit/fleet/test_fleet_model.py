"""The fleet file model, the wave arithmetic and the halting rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cutover.errors import UsageError
from cutover.fleet.model import load_fleet
from cutover.fleet.rules import halt_reason, split_waves, wave_size


def org(n: int) -> dict[str, str]:
    return {"alias": f"org{n}", "org_id": f"00D5g0000000{n:03d}"}


def write(tmp_path: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "name": "spring",
        "project": ".",
        "release": "3.0.0",
        "orgs": [org(n) for n in range(1, 21)],
        "waves": [{"name": "canary", "size": 1}, {"name": "early", "size": "10%", "max_parallel": 2}, {"name": "rest"}],
    }
    data.update(changes)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_wave_sizes_count_share_and_rest() -> None:
    assert wave_size(1, 50, 50) == 1
    assert wave_size("10%", 50, 49) == 5
    assert wave_size("10%", 5, 4) == 1  # rounded up, at least one org
    assert wave_size("rest", 50, 44) == 44
    assert wave_size(10, 50, 3) == 3  # never more than what is left
    assert split_waves([1, "10%", "rest"], 50) == [1, 5, 44]
    assert split_waves([1, "40%", "rest"], 5) == [1, 2, 2]
    assert split_waves([1, 1, 1], 2) == [1, 1, 0]


def test_halting_rule_threshold_is_strictly_exceeded() -> None:
    assert halt_reason("canary", {"a": "succeeded"}, 0.0) is None
    reason = halt_reason("canary", {"a": "rolled_back"}, 0.0)
    assert reason is not None and "1 of 1" in reason and "a rolled_back" in reason and "0%" in reason
    ten = {f"o{i}": "succeeded" for i in range(10)}
    assert halt_reason("w2", ten | {"o0": "failed"}, 0.10) is None  # 1 of 10 is not more than 10 %
    reason = halt_reason("w2", ten | {"o0": "failed", "o1": "rolled_back"}, 0.10)
    assert reason is not None and "2 of 10" in reason and "more than its threshold of 10%" in reason
    assert halt_reason("w2", {"a": "succeeded", "b": "locked"}, 0.10) is not None  # an org another run holds
    assert halt_reason("w2", {}, 0.0) is None


def test_fleet_file_waves_thresholds_and_pauses(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path))
    inp = fleet.to_input({"duration": "30s"})
    assert [(w.name, len(w.orgs)) for w in inp.waves] == [("canary", 1), ("early", 2), ("rest", 17)]
    assert [w.threshold for w in inp.waves] == [0.0, 0.10, 0.10]
    assert [w.pause_before for w in inp.waves] == [False, True, True]
    assert inp.waves[1].max_parallel == 2 and inp.waves[1].orgs[0].alias == "org2"
    assert inp.project_dir == str(tmp_path.resolve()) and inp.monitor == {"duration": "30s"}


def test_explicit_threshold_and_no_pause(tmp_path: Path) -> None:
    waves = [
        {"name": "a", "size": 2, "failure_threshold": "50%"},
        {"name": "b", "size": "rest", "failure_threshold": 0},
    ]
    inp = load_fleet(write(tmp_path, waves=waves, pause_between_waves=False)).to_input()
    assert [w.threshold for w in inp.waves] == [0.5, 0.0]
    assert not any(w.pause_before for w in inp.waves)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"waves": [{"name": "canary", "size": 1}]}, "19 org(s) are in no wave"),
        ({"waves": [{"name": "x", "size": "ten"}]}, ":47: waves.0.size"),  # line 47: after 20 orgs of 2 lines
        ({"orgs": [{"alias": "a", "org_id": "12345"}]}, "orgs.0.org_id"),
        ({"orgs": [org(1), org(1)]}, "listed twice"),
        ({"name": "no spaces"}, "name"),
        ({"waves": [{"name": "x", "size": "rest", "failure_threshold": "150%"}]}, "between 0% and 100%"),
        ({"wave": []}, "wave"),
    ],
)
def test_fleet_file_errors_are_one_line_usage_errors(tmp_path: Path, changes: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_fleet(write(tmp_path, **changes))
    assert needle in caught.value.message and "\n" not in caught.value.message


def test_missing_fleet_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such fleet file"):
        load_fleet(tmp_path / "nope.yaml")
