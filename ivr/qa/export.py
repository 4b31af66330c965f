"""Recorded calls → QA transcripts: ``ivr export``.

Every archived turn (the redacted line of :func:`ivr.runtime.engine.turn_record`) becomes a caller
step with an ``expect`` of the state the call reached, so the exported transcript replays
green on the flow version the call ran on, and goes red the day a flow change would send
that caller somewhere else. The transcript is pinned (``version:``) and, when the flow's
source for that version is still known (Redis keeps every published version), it is
written next to the transcripts under ``flows/`` so replay can load it.

Redacted data stays redacted: masked speech is kept as masked text; masked key presses
(a PIN, a card number) become a same-length run of placeholder digits, never the original.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ivr.flowlang.catalog import compile_text, flow_files
from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.machine import Compiled
from ivr.flowlang.model import version_of
from ivr.qa.transcript import Loaded
from ivr.qa.writer import dump
from ivr.runtime.redact import MASK, luhn_ok

Source = Callable[[str, str], str | None]
"""(flow id, version) → the flow's YAML text, or None when unknown."""


def placeholder(digits: str) -> str:
    """Stand-in keys for masked digits: same length, never a Luhn-valid card number."""
    n = len(digits) if digits and set(digits) == {"*"} else 16 if MASK in digits else 0
    if not n:
        return digits
    out = "1" * n
    return out[:-1] + "2" if n >= 13 and luhn_ok(out) else out


def step_for(turn: Mapping[str, Any]) -> dict[str, Any] | None:
    """The caller step of one archived turn (None for the call's start)."""
    heard = turn.get("heard") or {}
    kind = heard.get("kind")
    if kind == "lost":  # closed by ivr worker (no status callback): the caller was gone
        kind = "hangup"
    step: dict[str, Any]
    if kind == "start":
        return None
    if kind == "digits":
        step = {"press": placeholder(str(heard.get("digits", "")))}
    elif kind == "speech" and set(str(heard.get("text") or "")) == {"*"}:
        step = {"press": placeholder(str(heard["text"]))}  # a sensitive entry said aloud
    elif kind == "speech":
        step = {"say": str(heard.get("text") or "")}
        if heard.get("confidence") is not None:
            step["confidence"] = float(heard["confidence"])
    elif kind == "no_input":
        step = {"silence": True}
    elif kind == "dial_result":
        step = {"dial_result": str(heard.get("status") or "failed")}
    elif kind == "recording":
        seconds = heard.get("seconds", 10)  # lines archived before 'seconds' had a message
        step = {"record": {"seconds": int(seconds)} if seconds else "none"}
    elif kind == "queue_tick":
        step = {"wait": {"position": int(heard.get("position") or 0),
                         "seconds": int(heard.get("waited") or 0)}}
    elif kind == "leg":
        step = {"leg": str(heard.get("status") or "completed")}
    elif kind == "hangup":
        step = {"hangup": True}
    else:
        raise ValueError(f"turn {turn.get('turn')}: unknown input kind {kind!r}")
    return step


def transcript_for(call: Mapping[str, Any]) -> dict[str, Any]:
    """The transcript (plain data, ready for YAML) of an archived call with its turns."""
    turns = sorted(call.get("turns") or [], key=lambda t: int(t.get("turn", 0)))
    if not turns:
        raise ValueError(f"call {call.get('sid')} has no archived turns")
    steps: list[dict[str, Any]] = []
    for turn in turns:
        step = step_for(turn) or {}
        if step.get("hangup"):
            steps.append(step)
            break
        to = str(turn.get("to") or "")
        if to:
            step["expect"] = {"state": to}
        if step:
            steps.append(step)
    data: dict[str, Any] = {"flow": call["flow"], "version": call.get("version") or "",
                            "name": f"recorded call {call['sid']} ({call.get('outcome', '')})",
                            "clock": str(turns[0].get("at") or call.get("started") or ""),
                            "steps": steps}
    if call.get("outcome") and call["outcome"] != "lost":  # lost: no replay can end so
        data["outcome"] = call["outcome"]
    return {k: v for k, v in data.items() if v != ""}


def write(calls: Iterable[Mapping[str, Any]], out_dir: str,
          source: Source | None = None) -> list[str]:
    """Write one transcript per call under ``out_dir/<flow>/``; return the paths.

    With ``source``, each pinned flow version is written once to
    ``out_dir/flows/<flow>@<version>.yaml``.
    """
    paths: list[str] = []
    pinned: set[tuple[str, str]] = set()
    for call in calls:
        data = transcript_for(call)
        folder = os.path.join(out_dir, str(data["flow"]))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{call['sid']}.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(dump(data))
        paths.append(path)
        key = (str(data["flow"]), str(data.get("version", "")))
        if source and key[1] and key not in pinned:
            pinned.add(key)
            text = source(*key)
            if text:
                _write_flow(out_dir, key, text)
    return paths


def _write_flow(out_dir: str, key: tuple[str, str], text: str) -> None:
    folder = os.path.join(out_dir, "flows")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{key[0]}@{key[1]}.yaml"), "w", encoding="utf-8") as fh:
        fh.write(text)


def pinned_flow(path: str, flow_id: str, version: str) -> Compiled | None:
    """The compiled ``version`` of ``flow_id`` from a ``flows/`` folder beside the transcript
    (or its parent), as ``ivr export`` writes it; None when no file has that version."""
    here = os.path.dirname(os.path.abspath(path))
    for folder in (os.path.join(here, "flows"), os.path.join(os.path.dirname(here), "flows")):
        for file in flow_files([folder]) if os.path.isdir(folder) else ():
            with open(file, encoding="utf-8") as fh:
                text = fh.read()
            if version_of(text) == version:
                c = compile_text(text, file)
                return c if c.flow.id == flow_id else None
    return None


def unpinned(loaded: Loaded, flow_id: str, version: str, current: str) -> Problem:
    return loaded.source.problem(
        "IVR510", f"transcript is pinned to version {version} of '{flow_id}', which is not "
        f"available (current version is {current})", ("version",),
        "put that version's source in a flows/ folder beside the transcript (ivr export "
        "does), or remove 'version:' to replay against the current flow")
