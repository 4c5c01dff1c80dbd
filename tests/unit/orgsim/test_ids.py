from __future__ import annotations

import pytest

from orgsim.ids import checksum_suffix, is_valid_id, new_id, same_id, to_18


def test_checksum_matches_known_salesforce_ids() -> None:
    # Pairs published in Salesforce documentation and community examples of the 15 → 18 conversion.
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert to_18("003i000001F6JG1") == "003i000001F6JG1AAN"
    assert checksum_suffix("000000000000000") == "AAA"
    assert checksum_suffix("AAAAAAAAAAAAAAA") == "555"


@pytest.mark.parametrize("prefix", ["0Af", "09S", "707", "709", "07M", "01p", "08e", "a00"])
def test_new_ids_are_18_characters_with_prefix_and_valid_suffix(prefix: str) -> None:
    value = new_id(prefix)
    assert len(value) == 18
    assert value.startswith(prefix)
    assert is_valid_id(value)
    assert value[15:] == checksum_suffix(value[:15])


def test_new_ids_are_unique() -> None:
    assert len({new_id("707") for _ in range(2000)}) == 2000


def test_invalid_ids_are_rejected() -> None:
    good = new_id("0Af")
    wrong_suffix = good[:15] + ("AAA" if good[15:] != "AAA" else "BBB")
    assert not is_valid_id(wrong_suffix)
    assert not is_valid_id(good + "X")
    assert not is_valid_id("0Af-000000000000")
    with pytest.raises(ValueError):
        new_id("0A")


def test_same_id_compares_15_and_18_character_forms() -> None:
    value = new_id("08e")
    assert same_id(value, value[:15])
    assert not same_id(value, new_id("08e"))
    assert not same_id(None, value)


def test_complete_id_gives_the_18_character_form() -> None:
    from orgsim.ids import complete_id

    assert complete_id("00D5g000004SLb1") == "00D5g000004SLb1EAG"
    assert complete_id("00D5g000004SLb1AAA") == "00D5g000004SLb1EAG"  # a wrong suffix is replaced
    with pytest.raises(ValueError, match="15 characters"):
        complete_id("00D5g")
    with pytest.raises(ValueError, match="letters and digits"):
        complete_id("00D5g000004SL-1")


def test_orgsim_org_id_command(capsys: pytest.CaptureFixture[str]) -> None:
    from orgsim.cli import main

    with pytest.raises(SystemExit) as done:
        main(["org-id", "00D5g000004SLb1"])
    assert done.value.code == 0 and capsys.readouterr().out == "00D5g000004SLb1EAG\n"
    with pytest.raises(SystemExit) as done:
        main(["org-id", "nope"])
    assert done.value.code == 2 and "has 4" in capsys.readouterr().err
