"""The call archive: every call, every turn, inbox items and callbacks, in one database.

PostgreSQL when ``archive_url`` names one (every host shares it), else the SQLite file
``archive_path`` (``ivr serve``, dev); tables, engines and migrations live in
:mod:`ivr.store.db`. Written only by RQ jobs (:mod:`ivr.jobs.enqueue`), read by the
console, ``ivr inbox`` and ``ivr export``: nothing else opens the database. Every write is
an upsert on a unique key (CallSid, turn, capture: the dialect's ``INSERT … ON CONFLICT``),
so a job that runs twice after a crash writes nothing twice. Everything is redacted again
on the way in (card numbers masked, caller numbers masked, callers counted by a keyed
hash); the one exception is ``callbacks.number``, the number a person must ring back.

Tables (:mod:`ivr.store.db.tables`)::

    calls(sid PK, flow, version, caller, caller_key, outcome, reason, path, started, ended)
    turns(sid, turn, data, PK(sid, turn))
    inbox(sid PK, flow, version, state, path, said, caller, caller_key, at, handled,
          recording)
    inbox_said(sid, part, said, at, seq, PK(sid, part))
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
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import RowMapping, case, func, select, update

from ivr.config import ARCHIVE_PATH, Settings
from ivr.runtime.redact import mask_number, number_key, redact_text
from ivr.store.db import schema
from ivr.store.db import tables as T
from ivr.store.db.engine import (
    ArchiveError,
    ArchiveUnreachable,
    database_url,
    engine_for,
    insert_for,
    target_of,
)

__all__ = ["DEFAULT_PATH", "Archive", "ArchiveError", "ArchiveUnreachable", "scrub", "utc"]

DEFAULT_PATH = ARCHIVE_PATH
_prepared: set[str] = set()
_prepare_lock = threading.Lock()


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
    """The call archive on one database, schema checked once per process
    (:func:`ivr.store.db.schema.prepare`: SQLite upgraded in place, a behind PostgreSQL
    refused with the command to run).

    Args:
        target: A database URL (``postgresql://…``, ``sqlite:///…``) or a SQLite file path
            (its directory is created).
        secret: Key for the caller hash (``caller_key``); keep it stable.
        timeout: Seconds to connect and per statement (PostgreSQL).

    Raises:
        ArchiveError: A bad URL, an unreachable database or one that is not migrated.
    """

    def __init__(self, target: str | Path = DEFAULT_PATH, secret: str = "",
                 timeout: float = 10.0) -> None:
        self.secret = secret
        self.engine = engine_for(target, timeout)
        url = database_url(target)
        self.path = Path(url.database) if url.get_backend_name() == "sqlite" and \
            url.database else None
        key = url.render_as_string(hide_password=False)
        with _prepare_lock:
            if key not in _prepared:
                schema.prepare(self.engine)
                _prepared.add(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> Archive:
        """The archive ``archive_url`` (else ``archive_path``) names."""
        return cls(target_of(settings), settings.caller_key_secret, settings.archive_timeout)

    @property
    def url(self) -> str:
        """The database, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

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
        sid = str(call["sid"])
        row = {"sid": sid, "flow": call["flow"], "version": str(call.get("version") or ""),
               "caller": masked, "caller_key": key, "outcome": str(call.get("outcome") or ""),
               "reason": redact_text(str(call.get("reason") or "")),
               "path": _json(list(call.get("path") or [])), "started": utc(call.get("started")),
               "ended": utc(call["ended"])}
        lines = [{"sid": sid, "turn": int(t["turn"]), "data": _json(t)} for t in turns]
        with self.engine.begin() as db:
            stmt = insert_for(db, T.calls).values(row)
            db.execute(stmt.on_conflict_do_update(
                index_elements=["sid"], set_={k: stmt.excluded[k] for k in row if k != "sid"}))
            if lines:
                db.execute(insert_for(db, T.turns).on_conflict_do_nothing(
                    index_elements=["sid", "turn"]), lines)
            count = db.scalar(select(func.count()).select_from(T.turns)
                              .where(T.turns.c.sid == sid))
            return int(count or 0)

    def add_inbox(self, item: Mapping[str, Any], part: str = "") -> None:
        """Upsert the call's inbox item with one capture (what was said, a recording).

        Args:
            item: sid, flow, version, state, path, said, recording, caller, at, and
                ``menu_said`` (what the caller said at the menu that fell through).
            part: What this capture is, stable across re-runs: the job id (a capture's
                ``{sid}-t{turn}-{n}-inbox``, a transcription's ``{sid}-{RecordingSid}-…``).
                Default: the words themselves. A part already stored is not added again;
                every other capture of the call is, in the order it was said.
        """
        said = redact_text(str(item.get("said") or ""))
        menu_said = redact_text(str(item.get("menu_said") or ""))
        masked, key = self._caller(item.get("caller"))
        sid, at = str(item["sid"]), utc(item["at"])
        row = {"sid": sid, "flow": item["flow"], "version": str(item.get("version") or ""),
               "state": str(item.get("state") or ""),
               "path": _json(list(item.get("path") or [])), "said": "", "caller": masked,
               "caller_key": key, "at": at, "recording": str(item.get("recording") or ""),
               "menu_said": menu_said}
        S = T.inbox_said
        with self.engine.begin() as db:
            # the item's row first: its row lock orders concurrent captures of one call
            stmt = insert_for(db, T.inbox).values(row)
            keep = case((stmt.excluded.recording == "", T.inbox.c.recording),
                        else_=stmt.excluded.recording)
            menu = case((stmt.excluded.menu_said == "", T.inbox.c.menu_said),
                        else_=stmt.excluded.menu_said)
            db.execute(stmt.on_conflict_do_update(index_elements=["sid"],
                                                  set_={"recording": keep, "menu_said": menu}))
            if said:
                seq = db.scalar(select(func.coalesce(func.max(S.c.seq), 0))
                                .where(S.c.sid == sid))
                db.execute(insert_for(db, S).values(
                    sid=sid, part=part or f"said:{said}", said=said, at=at,
                    seq=int(seq or 0) + 1).on_conflict_do_nothing(index_elements=["sid", "part"]))
            parts = db.execute(select(S.c.part, S.c.said, S.c.at, S.c.seq)
                               .where(S.c.sid == sid)).mappings().all()
            merged = "; ".join(str(r["said"]) for r in sorted(parts, key=_said_order))
            db.execute(update(T.inbox).where(T.inbox.c.sid == sid).values(said=merged))

    def add_callback(self, item: Mapping[str, Any]) -> None:
        """Upsert a voicemail / callback request (the newest recording wins)."""
        masked, key = self._caller(item.get("caller"))
        number = item.get("number") or item.get("caller") or ""  # a number they entered wins
        row = {"sid": str(item["sid"]), "flow": item["flow"], "caller": masked,
               "caller_key": key, "number": str(number),
               "recording": str(item.get("recording") or ""),
               "duration": int(item.get("duration") or 0),
               "reason": redact_text(str(item.get("reason") or "")),
               "slots": _json(dict(item.get("slots") or {})),
               "path": _json(list(item.get("path") or [])), "at": utc(item["at"])}
        newest = ("recording", "duration", "reason", "slots", "path", "at")
        with self.engine.begin() as db:
            stmt = insert_for(db, T.callbacks).values(row)
            db.execute(stmt.on_conflict_do_update(
                index_elements=["sid"], set_={k: stmt.excluded[k] for k in newest}))

    def mark_handled(self, sid: str, handled: bool = True) -> bool:
        """Mark an inbox item handled (or not); False when there is no such item."""
        with self.engine.begin() as db:
            done = db.execute(update(T.inbox).where(T.inbox.c.sid == sid)
                              .values(handled=handled))
            return done.rowcount > 0

    # --- reads ---------------------------------------------------------------------------

    def call(self, sid: str) -> dict[str, Any] | None:
        """The archived call ``sid`` with its ``turns`` (oldest first), or None."""
        with self.engine.connect() as db:
            row = db.execute(select(T.calls).where(T.calls.c.sid == sid)).mappings().first()
            if row is None:
                return None
            turns = db.scalars(select(T.turns.c.data).where(T.turns.c.sid == sid)
                               .order_by(T.turns.c.turn))
            out = _row(row)
            out["turns"] = [json.loads(t) for t in turns]
            return out

    def call_sids(self, since: datetime | None = None, flow: str | None = None) -> list[str]:
        """CallSids of archived calls that ended since ``since`` (all flows or one), oldest
        first."""
        c = T.calls.c
        query = select(c.sid).where(c.ended >= _since(since)).order_by(c.ended, c.sid)
        if flow:
            query = query.where(c.flow == flow)
        with self.engine.connect() as db:
            return [str(s) for s in db.scalars(query)]

    def inbox(self, since: datetime | None = None, flow: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Inbox items, newest first, optionally since a time and for one flow."""
        c = T.inbox.c
        query = select(T.inbox).where(c.at >= _since(since)).order_by(c.at.desc(), c.sid)
        if flow:
            query = query.where(c.flow == flow)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as db:
            return [_row(r) for r in db.execute(query).mappings()]

    def callbacks(self, pending_only: bool = True) -> list[dict[str, Any]]:
        """Callback requests, oldest first (the queue a person works through)."""
        query = select(T.callbacks).order_by(T.callbacks.c.at, T.callbacks.c.sid)
        if pending_only:
            query = query.where(T.callbacks.c.done.is_(False))
        with self.engine.connect() as db:
            return [_row(r) for r in db.execute(query).mappings()]

    def history(self, caller: str, days: int = 7,
                now: datetime | None = None) -> list[dict[str, Any]]:
        """This caller's archived calls in the last ``days``, newest first.

        Each has sid, flow, outcome, reason, path (list of states), started, ended and
        ``said`` (their inbox words, when they reached "other").
        """
        if not caller or "*" in caller:
            return []
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        _, key = self._caller(caller)
        c, i = T.calls.c, T.inbox.c
        query = (select(c.sid, c.flow, c.outcome, c.reason, c.path, c.started, c.ended,
                        func.coalesce(i.said, "").label("said"))
                 .select_from(T.calls.outerjoin(T.inbox, i.sid == c.sid))
                 .where(c.caller_key == key, c.ended >= _since(since))
                 .order_by(c.ended.desc()))
        with self.engine.connect() as db:
            return [_row(r) for r in db.execute(query).mappings()]

    def calls_with_turns(self, since: datetime | None = None
                         ) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
        """(sid, flow, outcome, turns) of every call that ended since ``since`` (metrics)."""
        c, t = T.calls.c, T.turns.c
        turns: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as db:
            rows = db.execute(select(c.sid, c.flow, c.outcome).where(
                c.ended >= _since(since)).order_by(c.sid)).all()
            for sid, data in db.execute(
                    select(t.sid, t.data).join(T.calls, c.sid == t.sid)
                    .where(c.ended >= _since(since)).order_by(t.sid, t.turn)):
                turns.setdefault(sid, []).append(json.loads(data))
        return [(str(s), str(f), str(o), turns.get(s, [])) for s, f, o in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (for ``ivr jobs list``, ``ivr archive status`` and tests)."""
        with self.engine.connect() as db:
            return {t.name: int(db.scalar(select(func.count()).select_from(t)) or 0)
                    for t in T.TABLES if t.name in T.COUNTED}


_TURN = re.compile(r"-t(\d+)-\d+-")


def _since(since: datetime | None) -> str:
    return utc(since.isoformat()) if since else ""


def _said_order(row: RowMapping) -> tuple[str, int, int, str]:
    """Captures in the order they were said: time, then the turn in the job id, then the
    order they were written."""
    turn = _TURN.search(str(row["part"]))
    return (str(row["at"]), int(turn.group(1)) if turn else 1 << 30, int(row["seq"]),
            str(row["part"]))


def _row(row: RowMapping) -> dict[str, Any]:
    out = dict(row)
    for name in ("path", "slots"):
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    for name in ("handled", "done"):
        if name in out:
            out[name] = bool(out[name])
    return out
