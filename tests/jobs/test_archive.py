"""The call archive, on SQLite and on PostgreSQL: idempotent upserts, redaction on the way
in, caller history."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ivr.jobs.archive import Archive, scrub, utc
from ivr.runtime.redact import mask_number, number_key
from ivr.store.db.schema import HEAD
from ivr.store.db.tables import TABLES

CARD = "4111 1111 1111 1111"
NOW = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)


def _call(sid: str, caller: str = "+15551230000", ended: datetime = NOW,
          reason: str = "") -> dict[str, object]:
    return {"sid": sid, "flow": "card-services", "version": "v1", "caller": caller,
            "outcome": "human", "reason": reason, "path": ["welcome", "main_menu", "lost_card"],
            "started": (ended - timedelta(minutes=3)).isoformat(), "ended": ended.isoformat()}


def _turn(n: int, text: str = "lost my card") -> dict[str, object]:
    return {"turn": n, "from": "main_menu", "to": "lost_card",
            "heard": {"kind": "speech", "text": text}, "said": ["ok"], "actions": ["gather"],
            "at": NOW.isoformat()}


@pytest.fixture
def archive(archive_target: str) -> Archive:
    return Archive(archive_target, secret="s3cret")


def stored_text(archive: Archive) -> bytes:
    """Everything the database holds: every row as text, and on SQLite the files too."""
    with archive.engine.connect() as db:
        rows = [repr(tuple(r)) for t in TABLES for r in db.execute(t.select())]
    raw = "\n".join(rows).encode()
    if archive.path is not None:
        raw += b"".join(p.read_bytes() for p in archive.path.parent.iterdir())
    return raw


def test_record_call_twice_writes_each_row_once(archive: Archive) -> None:
    turns = [_turn(1), _turn(2), _turn(3)]
    assert archive.record_call(_call("CA1"), turns[:2]) == 2
    assert archive.record_call(_call("CA1"), turns) == 3
    assert archive.record_call(_call("CA1"), turns) == 3
    assert archive.counts() == {"calls": 1, "turns": 3, "inbox": 0, "callbacks": 0}
    stored = archive.call("CA1")
    assert stored is not None
    assert [t["turn"] for t in stored["turns"]] == [1, 2, 3]
    assert stored["caller"] == "+1******0000"
    assert stored["path"] == ["welcome", "main_menu", "lost_card"]


def test_card_numbers_and_caller_numbers_never_stored(archive: Archive) -> None:
    archive.record_call(_call("CA1", reason=f"card {CARD}"), [_turn(1, f"it is {CARD}")])
    archive.add_inbox({"sid": "CA1", "flow": "f", "said": f"found {CARD.replace(' ', '')}",
                       "caller": "+15551230000", "at": NOW.isoformat(),
                       "path": [f"x {CARD}"]})
    raw = stored_text(archive)
    for secret in (b"4111 1111 1111 1111", b"4111111111111111", b"5551230000"):
        assert secret not in raw
    assert archive.inbox()[0]["said"] == "found [card number]"


def test_times_are_stored_as_utc(archive: Archive) -> None:
    archive.add_inbox({"sid": "CA1", "flow": "f", "said": "x", "at": "2026-11-20T14:05:00-05:00"})
    assert archive.inbox()[0]["at"] == "2026-11-20T19:05:00+00:00"
    assert utc("2026-11-20T19:05:00") == "2026-11-20T19:05:00+00:00"
    assert utc("") == ""
    with pytest.raises(ValueError):
        utc("yesterday")


def test_second_capture_in_a_call_is_appended_once(archive: Archive) -> None:
    item = {"sid": "CA1", "flow": "f", "said": "found a card", "at": NOW.isoformat()}
    archive.add_inbox(item)
    archive.add_inbox({**item, "said": "I want to return it"})
    archive.add_inbox({**item, "said": "I want to return it"})
    archive.add_inbox({**item, "said": ""})
    assert archive.inbox()[0]["said"] == "found a card; I want to return it"
    assert archive.counts()["inbox"] == 1


def test_every_capture_of_a_call_is_kept_once_in_the_order_said(archive: Archive) -> None:
    item = {"sid": "CA1", "flow": "f", "state": "other", "at": NOW.isoformat()}
    archive.add_inbox({**item, "said": "card"}, "CA1-t10-0-inbox")
    archive.add_inbox({**item, "said": "I found a card"}, "CA1-t9-0-inbox")
    archive.add_inbox({**item, "said": "I found a card"}, "CA1-t9-0-inbox")   # a re-run
    archive.add_inbox({**item, "said": "card"}, "CA1-t10-0-inbox")
    archive.add_inbox({**item, "said": "it was on the bus", "at": (
        NOW + timedelta(minutes=1)).isoformat()}, "CA1-RE1-inbox-words")
    [row] = archive.inbox()
    assert row["said"] == "I found a card; card; it was on the bus"   # a substring is kept
    assert row["at"] == "2026-11-20T19:00:00+00:00" and row["state"] == "other"


def test_an_archive_from_before_inbox_said_keeps_its_words(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE inbox (sid TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT "
                   "NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '', path TEXT NOT NULL "
                   "DEFAULT '[]', said TEXT NOT NULL DEFAULT '', caller TEXT NOT NULL DEFAULT "
                   "'', caller_key TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, handled INTEGER "
                   "NOT NULL DEFAULT 0)")
        db.execute("INSERT INTO inbox (sid, flow, said, at) VALUES ('CA1', 'f', 'lost card', "
                   "'2026-11-20T19:00:00+00:00')")
    archive = Archive(path)
    archive.add_inbox({"sid": "CA1", "flow": "f", "said": "and my PIN",
                       "at": (NOW + timedelta(minutes=1)).isoformat()}, "CA1-t5-0-inbox")
    assert archive.inbox()[0]["said"] == "lost card; and my PIN"


def test_inbox_filters_and_order(archive: Archive) -> None:
    for i, flow in enumerate(["a", "b", "a"]):
        archive.add_inbox({"sid": f"CA{i}", "flow": flow, "said": f"s{i}",
                           "at": (NOW - timedelta(days=i * 3)).isoformat()})
    assert [i["sid"] for i in archive.inbox()] == ["CA0", "CA1", "CA2"]
    assert [i["sid"] for i in archive.inbox(flow="a")] == ["CA0", "CA2"]
    assert [i["sid"] for i in archive.inbox(since=NOW - timedelta(days=4))] == ["CA0", "CA1"]
    assert [i["sid"] for i in archive.inbox(limit=1)] == ["CA0"]
    assert archive.mark_handled("CA1") and not archive.mark_handled("nope")
    assert archive.inbox()[1]["handled"] is True


def test_history_counts_a_callers_recent_calls(archive: Archive) -> None:
    for i, days in enumerate([0, 2, 5, 9]):
        archive.record_call(_call(f"CA{i}", ended=NOW - timedelta(days=days)), [])
    archive.record_call(_call("OTHER", caller="+15559990000"), [])
    archive.add_inbox({"sid": "CA1", "flow": "f", "said": "lost card again",
                       "at": NOW.isoformat()})
    week = archive.history("+1 (555) 123-0000", days=7, now=NOW)
    assert [c["sid"] for c in week] == ["CA0", "CA1", "CA2"]
    assert week[1]["said"] == "lost card again"
    assert week[0]["path"][-1] == "lost_card"
    assert archive.history("", now=NOW) == []
    assert len(archive.history("+15551230000", days=30, now=NOW)) == 4


def test_history_needs_the_same_secret(archive_target: str) -> None:
    Archive(archive_target, secret="one").record_call(_call("CA1"), [])
    assert Archive(archive_target, secret="two").history("+15551230000", now=NOW) == []
    assert len(Archive(archive_target, secret="one").history("+15551230000", now=NOW)) == 1


def test_callbacks_keep_the_number_to_ring_back(archive: Archive) -> None:
    cb = {"sid": "CA1", "flow": "f", "caller": "+15551230000", "recording": "https://r/1",
          "duration": 12, "reason": f"card {CARD}", "slots": {"last4": "1111"},
          "path": ["voicemail"], "at": NOW.isoformat()}
    archive.add_callback(cb)
    archive.add_callback({**cb, "recording": "https://r/2"})
    [row] = archive.callbacks()
    assert row["number"] == "+15551230000" and row["caller"] == "+1******0000"
    assert row["recording"] == "https://r/2" and row["reason"] == "card [card number]"
    assert row["slots"] == {"last4": "1111"} and row["done"] is False


def test_sqlite_is_in_wal_mode_with_the_schema_at_head(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    assert tables == {"calls", "turns", "inbox", "inbox_said", "callbacks", "alembic_version"}
    assert archive.path == tmp_path / "a.db"


def test_values_read_back_with_their_types(archive: Archive) -> None:
    archive.add_callback({"sid": "CA1", "flow": "f", "caller": "+15551230000",
                          "duration": "7", "at": NOW.isoformat()})
    assert archive.callbacks()[0]["duration"] == 7
    assert archive.callbacks(pending_only=False)[0]["done"] is False
    with archive.engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM callbacks")).scalar() == 1


def test_scrub_is_deep() -> None:
    assert scrub({"a": [CARD, {"b": (CARD,)}], "n": 3}) == \
        {"a": ["[card number]", {"b": ["[card number]"]}], "n": 3}


@pytest.mark.parametrize(("number", "masked"), [
    ("+15551230000", "+1******0000"), ("+442071234567", "+44******4567"),
    ("5551230000", "******0000"), ("", ""), ("anonymous", "anonymous"), ("123", "*23"),
    ("***0000", "***0000")])
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_number_key_ignores_formatting_and_uses_the_secret() -> None:
    assert number_key("+1 (555) 123-0000", "k") == number_key("+15551230000", "k")
    assert number_key("+15551230000", "k") != number_key("+15551230000", "other")


def test_masked_callers_are_not_counted_together(archive: Archive) -> None:
    archive.record_call(_call("CA1", caller="***0000"), [])
    archive.record_call(_call("CA2", caller="***0000"), [])
    assert archive.call("CA1")["caller"] == "***0000"  # type: ignore[index]
    assert archive.history("***0000", now=NOW) == []


def test_the_menu_words_are_kept_beside_the_capture(archive: Archive) -> None:
    at = NOW.isoformat()
    archive.add_inbox({"sid": "CAm", "flow": "f", "said": "I want to give it back", "at": at,
                       "menu_said": "I found somebody's card 4111 1111 1111 1111"}, "t2-0")
    archive.add_inbox({"sid": "CAm", "flow": "f", "said": "it's a visa", "at": at}, "t3-0")
    (item,) = archive.inbox()
    assert item["menu_said"] == "I found somebody's card [card number]" or \
        "4111" not in item["menu_said"]
    assert item["menu_said"].startswith("I found somebody's card")  # a later capture keeps it
    assert item["said"] == "I want to give it back; it's a visa"
