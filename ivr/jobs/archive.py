"""The call archive: every call, every turn, inbox items and callbacks, in one SQLite file.

Written only by RQ jobs (:mod:`ivr.jobs.enqueue`), read by ``ivr inbox`` and by whoever builds a
whisper from a caller's history. Every write is an upsert keyed by CallSid (and turn), so a
job that runs twice after a crash writes nothing twice. Everything is redacted again on the
way in (card numbers masked, caller numbers masked, callers counted by a keyed hash); the
one exception is ``callbacks.number``, the number a person must ring back.

Tables::

    calls(sid PK, flow, version, caller, caller_key, outcome, reason, path, started, ended)
    turns(sid, turn, data, PK(sid, turn))
    inbox(sid PK, flow, version, state, path, said, caller, caller_key, at, handled,
          recording)
    inbox_said(sid, part, said, at, PK(sid, part))
    callbacks(sid PK, flow, caller, caller_key, number, recording, duration, reason, slots,
              path, at, done)

One inbox item per call: every capture of the call (and each transcription of a recorded
one) is a row of ``inbox_said``, keyed by the job that wrote it, and the item's ``said``
is all of them in the order they were said, joined with "; ".

Times are stored as ISO 8601 in UTC so that text order is time order.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.config import ARCHIVE_PATH
from ivr.runtime.redact import mask_number, number_key, redact_text

DEFAULT_PATH = ARCHIVE_PATH

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    sid TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',
    caller TEXT NOT NULL DEFAULT '', caller_key TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '[]', started TEXT NOT NULL DEFAULT '', ended TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller_key, ended);
CREATE TABLE IF NOT EXISTS turns (
    sid TEXT NOT NULL, turn INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (sid, turn));
CREATE TABLE IF NOT EXISTS inbox (
    sid TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '[]',
    said TEXT NOT NULL DEFAULT '', caller TEXT NOT NULL DEFAULT '',
    caller_key TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, handled INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox (at);
CREATE TABLE IF NOT EXISTS inbox_said (
    sid TEXT NOT NULL, part TEXT NOT NULL, said TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (sid, part));
CREATE TABLE IF NOT EXISTS callbacks (
    sid TEXT PRIMARY KEY, flow TEXT NOT NULL, caller TEXT NOT NULL DEFAULT '',
    caller_key TEXT NOT NULL DEFAULT '', number TEXT NOT NULL DEFAULT '',
    recording TEXT NOT NULL DEFAULT '', duration INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '', slots TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL DEFAULT '[]', at TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
"""


def utc(value: object) -> str:
    """An ISO time as UTC ISO text ('' stays ''); naive times are taken as UTC.

    Raises:
        ValueError: ``value`` is not an ISO 8601 time.
    """
    if value in (None, ""):
        return ""
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def scrub(value: Any) -> Any:
    """``value`` with card numbers masked in every string, however deeply nested."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(scrub(value), separators=(",", ":"), sort_keys=True, default=str)


class Archive:
    """One SQLite archive file (WAL mode, so workers and readers do not block each other).

    Args:
        path: The database file; its directory is created.
        secret: Key for the caller hash (``caller_key``); keep it stable.
    """

    def __init__(self, path: str | Path = DEFAULT_PATH, secret: str = "") -> None:
        self.path = Path(path)
        self.secret = secret
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            had_parts = db.execute("SELECT 1 FROM sqlite_master WHERE name='inbox_said'")
            seed = had_parts.fetchone() is None
            db.executescript(SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(inbox)")}
            if "recording" not in columns:  # archives written before recorded captures
                db.execute("ALTER TABLE inbox ADD COLUMN recording TEXT NOT NULL DEFAULT ''")
            if seed:  # archives written before inbox_said: what they said stays said
                db.execute("INSERT OR IGNORE INTO inbox_said SELECT sid, 'earlier', said, at "
                           "FROM inbox WHERE said != ''")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            with db:
                yield db

    def _caller(self, number: object) -> tuple[str, str]:
        """(masked number, caller key); no key for a number that arrives masked already."""
        text = str(number or "")
        if not text or "*" in text:
            return mask_number(text), ""
        return mask_number(text), number_key(text, self.secret)

    # --- writes (all idempotent) ---------------------------------------------------------

    def record_call(self, call: Mapping[str, Any], turns: Sequence[Mapping[str, Any]]) -> int:
        """Upsert the call row and every turn; return how many turns are now archived.

        Args:
            call: sid, flow, version, caller, outcome, reason, path, started, ended.
            turns: :func:`ivr.runtime.engine.turn_record` lines (each with an int ``turn``).
        """
        masked, key = self._caller(call.get("caller"))
        row = (call["sid"], call["flow"], str(call.get("version") or ""), masked, key,
               str(call.get("outcome") or ""), redact_text(str(call.get("reason") or "")),
               _json(list(call.get("path") or [])), utc(call.get("started")),
               utc(call["ended"]))
        with self._db() as db:
            db.execute(
                "INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(sid) DO UPDATE SET "
                "flow=excluded.flow, version=excluded.version, caller=excluded.caller, "
                "caller_key=excluded.caller_key, outcome=excluded.outcome, "
                "reason=excluded.reason, path=excluded.path, started=excluded.started, "
                "ended=excluded.ended", row)
            db.executemany("INSERT OR IGNORE INTO turns VALUES (?,?,?)",
                           [(call["sid"], int(t["turn"]), _json(t)) for t in turns])
            count = db.execute("SELECT count(*) FROM turns WHERE sid=?", (call["sid"],))
            return int(count.fetchone()[0])

    def add_inbox(self, item: Mapping[str, Any], part: str = "") -> None:
        """Upsert the call's inbox item with one capture (what was said, a recording).

        Args:
            item: sid, flow, version, state, path, said, recording, caller, at.
            part: What this capture is, stable across re-runs: the job id (a capture's
                ``{sid}-t{turn}-{n}-inbox``, a transcription's ``{sid}-{RecordingSid}-…``).
                Default: the words themselves. A part already stored is not added again;
                every other capture of the call is, in the order it was said.
        """
        said = redact_text(str(item.get("said") or ""))
        masked, key = self._caller(item.get("caller"))
        at = utc(item["at"])
        row = (item["sid"], item["flow"], str(item.get("version") or ""),
               str(item.get("state") or ""), _json(list(item.get("path") or [])), said,
               masked, key, at, str(item.get("recording") or ""))
        with self._db() as db:
            if said:
                db.execute("INSERT OR IGNORE INTO inbox_said VALUES (?,?,?,?)",
                           (item["sid"], part or f"said:{said}", said, at))
            db.execute(
                "INSERT INTO inbox (sid, flow, version, state, path, said, caller, caller_key, "
                "at, recording) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(sid) DO UPDATE SET "
                "recording = CASE WHEN excluded.recording = '' THEN inbox.recording "
                "ELSE excluded.recording END", row)
            parts = db.execute("SELECT part, said, at, rowid FROM inbox_said WHERE sid=?",
                               (item["sid"],)).fetchall()
            merged = "; ".join(r["said"] for r in sorted(parts, key=_said_order))
            db.execute("UPDATE inbox SET said=? WHERE sid=?", (merged, item["sid"]))

    def add_callback(self, item: Mapping[str, Any]) -> None:
        """Upsert a voicemail / callback request (the newest recording wins)."""
        masked, key = self._caller(item.get("caller"))
        number = item.get("number") or item.get("caller") or ""  # a number they entered wins
        row = (item["sid"], item["flow"], masked, key, str(number),
               str(item.get("recording") or ""), int(item.get("duration") or 0),
               redact_text(str(item.get("reason") or "")), _json(dict(item.get("slots") or {})),
               _json(list(item.get("path") or [])), utc(item["at"]))
        with self._db() as db:
            db.execute(
                "INSERT INTO callbacks (sid, flow, caller, caller_key, number, recording, "
                "duration, reason, slots, path, at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(sid) DO UPDATE SET recording=excluded.recording, "
                "duration=excluded.duration, reason=excluded.reason, slots=excluded.slots, "
                "path=excluded.path, at=excluded.at", row)

    def mark_handled(self, sid: str, handled: bool = True) -> bool:
        """Mark an inbox item handled (or not); False when there is no such item."""
        with self._db() as db:
            cur = db.execute("UPDATE inbox SET handled=? WHERE sid=?", (int(handled), sid))
            return cur.rowcount > 0

    # --- reads ---------------------------------------------------------------------------

    def call(self, sid: str) -> dict[str, Any] | None:
        """The archived call ``sid`` with its ``turns`` (oldest first), or None."""
        with self._db() as db:
            row = db.execute("SELECT * FROM calls WHERE sid=?", (sid,)).fetchone()
            if row is None:
                return None
            turns = db.execute("SELECT data FROM turns WHERE sid=? ORDER BY turn", (sid,))
            out = _row(row)
            out["turns"] = [json.loads(t["data"]) for t in turns]
            return out

    def call_sids(self, since: datetime | None = None, flow: str | None = None) -> list[str]:
        """CallSids of archived calls that ended since ``since`` (all flows or one), oldest
        first."""
        sql, args = "SELECT sid FROM calls WHERE ended >= ?", [utc(since.isoformat())
                                                               if since else ""]
        if flow:
            sql += " AND flow = ?"
            args.append(flow)
        with self._db() as db:
            return [str(r[0]) for r in db.execute(sql + " ORDER BY ended, sid", args)]

    def inbox(self, since: datetime | None = None, flow: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Inbox items, newest first, optionally since a time and for one flow."""
        sql, args = "SELECT * FROM inbox WHERE at >= ?", [utc(since.isoformat()) if since else ""]
        if flow:
            sql += " AND flow = ?"
            args.append(flow)
        sql += " ORDER BY at DESC, sid" + (" LIMIT ?" if limit else "")
        if limit:
            args.append(str(limit))
        with self._db() as db:
            return [_row(r) for r in db.execute(sql, args)]

    def callbacks(self, pending_only: bool = True) -> list[dict[str, Any]]:
        """Callback requests, oldest first (the queue a person works through)."""
        sql = "SELECT * FROM callbacks" + (" WHERE done = 0" if pending_only else "")
        with self._db() as db:
            return [_row(r) for r in db.execute(sql + " ORDER BY at")]

    def history(self, caller: str, days: int = 7,
                now: datetime | None = None) -> list[dict[str, Any]]:
        """This caller's archived calls in the last ``days``, newest first.

        Each has sid, flow, outcome, reason, path (list of states), ended and ``said``
        (their inbox words, when they reached "other"). Good for a whisper such as "third
        call this week about a lost card".
        """
        if not caller or "*" in caller:
            return []
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        _, key = self._caller(caller)
        with self._db() as db:
            rows = db.execute(
                "SELECT c.sid, c.flow, c.outcome, c.reason, c.path, c.started, c.ended, "
                "coalesce(i.said, '') AS said FROM calls c LEFT JOIN inbox i ON i.sid = c.sid "
                "WHERE c.caller_key = ? AND c.ended >= ? ORDER BY c.ended DESC",
                (key, utc(since.isoformat())))
            return [_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (for ``ivr jobs list`` and tests)."""
        with self._db() as db:
            return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                    for t in ("calls", "turns", "inbox", "callbacks")}


_TURN = re.compile(r"-t(\d+)-\d+-")


def _said_order(row: sqlite3.Row) -> tuple[str, int, int]:
    """Captures in the order they were said: time, then the turn in the job id, then the
    order they were written."""
    turn = _TURN.search(str(row["part"]))
    return str(row["at"]), int(turn.group(1)) if turn else 1 << 30, int(row["rowid"])


def _row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for name in ("path", "slots"):
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    for name in ("handled", "done"):
        if name in out:
            out[name] = bool(out[name])
    return out
