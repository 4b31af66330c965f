"""``ivr inbox``: listing "other" captures and grouping similar utterances for ops."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.jobs.archive import Archive
from ivr.ops.inbox import parse_since, render_items, render_top, top, without_fillers

NOW = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
FOUND = ["I found someone's card", "i found someones card", "Um, I found somebody's card!",
         "I found a card", "I found someone's card."]


def test_parse_since_relative_and_iso() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_since("30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_since("2W", NOW) == NOW - timedelta(weeks=2)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T09:00-05:00").utcoffset() == timedelta(hours=-5)
    with pytest.raises(ValueError, match="7d"):
        parse_since("last week")


def test_without_fillers_drops_case_punctuation_and_filler() -> None:
    assert without_fillers("Um, I FOUND someone's card!") == "found someones card"
    assert without_fillers("uh um") == "uh um"
    assert without_fillers("[card number] please") == "[card number]"


def test_top_groups_similar_utterances() -> None:
    said = FOUND * 7 + ["close my account", "I want to close my account please"] + \
        ["what are your hours", "hours?", "What are your hours?"]
    groups = top(said)
    assert groups[0].phrase == "I found someone's card" and groups[0].count == 35
    assert [g.count for g in groups[1:]] == [3, 2]
    assert groups[1].phrase.lower().startswith("what are your hours")
    assert len(groups[0].examples) == 3
    assert render_top(groups).splitlines()[0] == "I found someone's card: 35"


def test_top_keeps_different_things_apart() -> None:
    groups = top(["I found someone's card", "I lost my card", "my card was stolen", "", "  "])
    assert len(groups) == 3 and sum(g.count for g in groups) == 3


def test_render_formats() -> None:
    items = [{"sid": "CA1", "flow": "f", "state": "other", "caller": "+1******0000",
              "caller_key": "k", "said": "found, a card", "at": NOW.isoformat(),
              "path": ["a", "other"], "version": "v", "handled": False}]
    table = render_items(items)
    assert table.splitlines()[0].split() == ["AT", "FLOW", "STATE", "CALLER", "MENU_SAID", "SAID"]
    assert "found, a card" in table
    assert "caller_key" not in json.loads(render_items(items, "json"))[0]
    rows = list(csv.DictReader(io.StringIO(render_items(items, "csv"))))
    assert rows[0]["said"] == "found, a card" and rows[0]["path"] == "a > other"
    assert render_items([]) == "inbox is empty" and render_top([]) == "inbox is empty"
    assert json.loads(render_top(top(FOUND), "json"))[0]["count"] == 5
    assert render_top(top(FOUND), "csv").splitlines()[0] == "count,phrase,examples"


@pytest.fixture
def filled(tmp_path: Path, archive_target: str) -> Path:
    """A config and an inbox of six items, on SQLite and on PostgreSQL (the target is
    written to ``tmp/target`` for :func:`_ivr`)."""
    archive = Archive(archive_target, "k3y")
    (tmp_path / "target").write_text(archive_target)
    now = datetime.now(UTC)
    for i, said in enumerate(FOUND + ["close my account"]):
        archive.add_inbox({"sid": f"CA{i}", "flow": "card-services" if i else "other-flow",
                           "state": "other", "said": said, "caller": "+15551230000",
                           "path": ["welcome", "check_hours", "main_menu", "other"],
                           "at": (now - timedelta(hours=i * 30)).isoformat()})
    (tmp_path / "config.yaml").write_text('emergency_number: "+15551230000"\n')
    return tmp_path


def _target(tmp: Path) -> str:
    saved = tmp / "target"
    return saved.read_text() if saved.exists() else str(tmp / "archive.db")


def _ivr(tmp: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["inbox", "-c", str(tmp / "config.yaml"),
                                       "--archive", _target(tmp), *args])
    return result.exit_code, result.output


def test_cli_inbox_lists_newest_first_with_filters(filled: Path) -> None:
    code, out = _ivr(filled, "--format", "json")
    assert code == 0
    items = json.loads(out)
    assert [i["sid"] for i in items] == [f"CA{i}" for i in range(6)]
    assert all(i["caller"] == "+1******0000" for i in items)
    code, out = _ivr(filled, "--format", "json", "--since", "2d", "--flow", "card-services")
    assert [i["sid"] for i in json.loads(out)] == ["CA1"]
    code, out = _ivr(filled, "--format", "csv", "--limit", "2")
    assert len(out.strip().splitlines()) == 3


def test_cli_inbox_top(filled: Path) -> None:
    code, out = _ivr(filled, "--top", "--by-spelling")
    assert code == 0
    assert out.splitlines() == [
        "note: grouped by spelling, not meaning: the model is off",
        "    5  I found someone's card",
        "       “i found someones card”", "       “I found someone's card.”",
        "       → a new intent found_card in main_menu (to a person): \"I found a card\", "
        "\"i found someones card\", \"I found someone's card\"",
        "    1  close my account",
        "       → a new intent close_account in main_menu (to a person): \"close my account\""]
    code, out = _ivr(filled, "--top", "--flows-dir", str(filled))  # no flow files there
    assert out.splitlines()[-1] == \
        "       → no menu to suggest: card-services is not published here (or not valid)"
    code, out = _ivr(filled, "--top", "--format", "json", "--limit", "1")
    got = json.loads(out)
    assert got["groups"][0]["count"] == 5 and got["groups"][0]["flow"] == "card-services"
    assert got["groups"][0]["suggestion"]["kind"] == "new" and len(got["groups"]) == 1
    code, out = _ivr(filled, "--top", "--format", "csv")
    assert out.splitlines()[0] == "count,phrase,examples,flow,suggestion"


def test_cli_inbox_bad_since_is_a_usage_error(filled: Path) -> None:
    code, out = _ivr(filled, "--since", "soon")
    assert code == 2 and "7d" in out


def test_cli_inbox_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("spool_dri: x\n")
    code, out = _ivr(tmp_path)
    assert code == 2


@pytest.mark.redis
def test_cli_inbox_top_suggests_against_the_version_published_in_redis(
        filled: Path, redis_url: str) -> None:
    from tests.ops.test_ops import make_app

    make_app(redis_url, str(filled / "unused.db"))  # publishes flows/ into Redis
    code, out = _ivr(filled, "--top", "--by-spelling", "--redis-url", redis_url,
                     "--flows-dir", str(filled))  # no flow files there: Redis it is
    assert code == 0 and "→ a new intent found_card in main_menu" in out
