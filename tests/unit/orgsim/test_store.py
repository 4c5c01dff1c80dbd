from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orgsim.store import OrgStore, format_datetime, parse_datetime


@pytest.fixture
def store(tmp_path: Path) -> OrgStore:
    clock = [datetime(2026, 11, 27, 17, 5, tzinfo=UTC)]
    store = OrgStore(tmp_path / "org.db", clock=lambda: clock[0], default_user_id="0055g00000RMGR1AAP")
    store.test_clock = clock  # type: ignore[attr-defined]
    return store


def test_insert_adds_id_and_audit_fields(store: OrgStore) -> None:
    record_id = store.insert("Account", {"Name": "Acme"})
    sobject, record = store.get(record_id)  # type: ignore[misc]
    assert sobject == "Account"
    assert record_id.startswith("001") and len(record_id) == 18
    assert record["Name"] == "Acme"
    assert record["CreatedDate"] == "2026-11-27T17:05:00.000+0000"
    assert record["LastModifiedDate"] == record["SystemModstamp"] == record["CreatedDate"]
    assert record["CreatedById"] == "0055g00000RMGR1AAP"


def test_given_id_and_created_date_are_kept(store: OrgStore) -> None:
    store.insert("Account", {"Id": "001000000000001AAA", "Name": "Old", "CreatedDate": "2020-01-01T00:00:00.000+0000"})
    _, record = store.get("001000000000001")  # 15-character form finds the record too
    assert record["Id"] == "001000000000001AAA"
    assert record["CreatedDate"] == "2020-01-01T00:00:00.000+0000"


def test_update_merges_and_touches_modification_stamps(store: OrgStore) -> None:
    record_id = store.insert("Account", {"Name": "Acme", "Industry": "Tech"})
    store.test_clock[0] += timedelta(minutes=5)  # type: ignore[attr-defined]
    store.update(record_id, {"Name": "Acme Ltd"})
    _, record = store.get(record_id)  # type: ignore[misc]
    assert record["Name"] == "Acme Ltd" and record["Industry"] == "Tech"
    assert record["LastModifiedDate"] == "2026-11-27T17:10:00.000+0000"
    assert record["CreatedDate"] == "2026-11-27T17:05:00.000+0000"
    with pytest.raises(KeyError):
        store.update("001000000000009AAA", {"Name": "x"})


def test_delete_and_list_in_insertion_order(store: OrgStore) -> None:
    ids = [store.insert("Contact", {"LastName": name}) for name in ("a", "b", "c")]
    assert [r["LastName"] for r in store.list("contact")] == ["a", "b", "c"]  # sobject names are case-insensitive
    assert store.delete(ids[1]) is True
    assert store.delete(ids[1]) is False
    assert [r["LastName"] for r in store.list("Contact")] == ["a", "c"]
    assert store.count("Contact") == 2
    assert store.get(ids[1]) is None


def test_transaction_rolls_back_on_error(store: OrgStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("Account", {"Name": "doomed"})
        with store.transaction():  # nested: joins the outer one
            store.insert("Account", {"Name": "also doomed"})
        raise RuntimeError("boom")
    assert store.list("Account") == []


def test_settings_round_trip_and_persist(tmp_path: Path, store: OrgStore) -> None:
    store.settings["clock"] = {"offset": 12.5}
    assert store.settings.get("clock") == {"offset": 12.5}
    assert store.settings.get("missing", "default") == "default"
    with pytest.raises(KeyError):
        store.settings["missing"]
    store.insert("Account", {"Name": "kept"})
    store.close()
    reopened = OrgStore(tmp_path / "org.db")
    assert reopened.get_setting("clock") == {"offset": 12.5}
    assert [r["Name"] for r in reopened.list("Account")] == ["kept"]


def test_other_components_can_create_tables_and_wipe_drops_them(store: OrgStore) -> None:
    with store.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS md_components (name TEXT)")
        conn.execute("INSERT INTO md_components VALUES ('Foo')")
    store.insert("Account", {"Name": "x"})
    store.wipe()
    assert store.list("Account") == []
    tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "md_components" not in tables and "records" in tables


def test_concurrent_inserts_from_threads(store: OrgStore) -> None:
    def work(thread_number: int) -> None:
        for index in range(50):
            store.insert("Account", {"Name": f"{thread_number}-{index}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count("Account") == 200
    assert len({r["Id"] for r in store.list("Account")}) == 200


def test_datetime_format_round_trips() -> None:
    moment = datetime(2026, 11, 27, 12, 5, 7, 123456, tzinfo=timezone(timedelta(hours=-5)))
    text = format_datetime(moment)
    assert text == "2026-11-27T17:05:07.123+0000"
    assert parse_datetime(text) == datetime(2026, 11, 27, 17, 5, 7, 123000, tzinfo=UTC)
    assert parse_datetime("2026-11-27T17:05:07Z") == datetime(2026, 11, 27, 17, 5, 7, tzinfo=UTC)
