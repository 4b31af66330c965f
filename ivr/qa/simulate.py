"""``ivr simulate``: a phone call in the terminal, on the same engine as live calls.

A :class:`Session` turns typed lines into caller steps and plays them through
:class:`ivr.qa.replay.EngineDriver` (so a simulated call, a replayed transcript and a live call
all go through ``ivr.runtime.engine.step``). It can write what happened as a transcript
(``--record``) that replays green. It works the same on a terminal and with a script on
stdin (no prompts are printed when stdin is not a terminal).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ivr.flowlang.machine import Compiled
from ivr.qa.drivers import EngineDriver, Observed
from ivr.qa.transcript import Step, Transcript
from ivr.qa.writer import dump

HELP = """\
  1, 0#, 12345       press keys (a trailing # ends a digit entry, as on a phone)
  say <words>        speak, e.g.  say I lost my card
  say <words> @0.4   speak with a speech-recognition confidence of 0.4
  (empty line)       stay silent
  answer             while a person is rung: they answer
  noanswer | busy    while a person is rung: nobody answers / the line is busy
  (any text)         while recording a voicemail: the message ends
  hangup             hang up
  help               this list"""

COMMANDS = ("say", "answer", "noanswer", "busy", "hangup", "help")

OUTCOMES = {
    "human": "reached a person (human)",
    "other": "said why they called in their own words, then went to a person (other)",
    "voicemail": "left a voicemail for a callback (voicemail)",
    "hangup": "hung up (hang-up)",
    "completed": "was done and heard goodbye (completed)",
}

_SAY = re.compile(r"^say\s+(?P<words>.+?)(?:\s+@(?P<conf>[01](?:\.\d+)?))?\s*$", re.I)


class InputError(ValueError):
    """A line the simulator does not understand; the message says what to type instead."""


def parse_line(line: str, turn: Observed) -> Step | None:
    """The caller step for a typed ``line``; None for ``help``.

    Raises:
        InputError: For an unknown command or input that does not fit the moment.
    """
    text = line.strip()
    word = text.lower()
    ringing = any(a in ("dial", "enqueue") for a in turn.actions)
    recording = "record" in turn.actions
    if word in ("help", "?"):
        return None
    if word == "hangup":
        return Step(0, 0, "hangup")
    if word in ("answer", "noanswer", "no-answer", "busy"):
        if not ringing:
            raise InputError(f"'{word}' only works while a person is being rung")
        status = {"answer": "completed", "noanswer": "no-answer"}.get(word, word)
        return Step(0, 0, "dial_result", status)
    if recording:
        return Step(0, 0, "recording")
    if ringing:
        raise InputError("a person is being rung: type answer, noanswer or busy")
    if not text:
        return Step(0, 0, "silence")
    if re.fullmatch(r"[0-9*#]+", text):
        return Step(0, 0, "press", text)
    m = _SAY.match(text)
    if m:
        conf = float(m["conf"]) if m["conf"] else None
        return Step(0, 0, "say", m["words"], conf)
    close = difflib.get_close_matches(word.split()[0], COMMANDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"unknown input '{text}'{hint}: type help for the list")


class Session:
    """One simulated call: feed it lines, get back what to print.

    Args:
        c: The compiled flow.
        clock: The time of the call (business hours); default now.
    """

    def __init__(self, c: Compiled, clock: datetime | None = None) -> None:
        self.c = c
        self.clock = clock or datetime.now(UTC).replace(microsecond=0)
        self.driver = EngineDriver(c, sid="CAsimulate")
        self.turn = Observed(None, [], [])
        self.steps: list[dict[str, Any]] = []

    @property
    def ended(self) -> bool:
        return self.turn.ended

    def start(self) -> list[str]:
        """Start the call; the lines showing what the caller hears first."""
        t = Transcript("<simulate>", self.c.flow.id, "simulate", (), self.clock)
        self.turn = self.driver.start(t)
        self.steps.append({"expect": {"state": self.turn.state}})
        return self.show(self.turn)

    def handle(self, line: str) -> list[str]:
        """Apply one typed line; the lines to print."""
        if self.ended:
            return ["the call has ended"]
        try:
            s = parse_line(line, self.turn)
        except InputError as exc:
            return [f"  ? {exc}"]
        if s is None:
            return HELP.splitlines()
        self.turn = self.driver.send(s)
        self.steps.append(_step_dict(s))
        self.steps.append({"expect": {"state": self.turn.state}})
        return self.show(self.turn)

    def show(self, turn: Observed) -> list[str]:
        """What the caller hears, tagged with the state, and what they may do next."""
        tag = f"[{turn.state}]"
        out = [f"{tag} 🔊 {' '.join(s.split())}" for s in turn.said]
        if turn.ended:
            out.append(f"📴 call ended: the caller {self.where()}")
        elif any(a in ("dial", "enqueue") for a in turn.actions):
            out.append(f"{tag} 📞 ringing a person... (answer, noanswer or busy)")
        elif "record" in turn.actions:
            out.append(f"{tag} ⏺  recording after the tone... (type the message, or Enter)")
        return out

    def where(self) -> str:
        """Where the call went, in words."""
        outcome = self.turn.outcome or ""
        return OUTCOMES.get(outcome, f"is still in '{self.turn.state}' (no outcome yet)")

    def transcript(self, name: str = "") -> str:
        """The session as transcript YAML, with an expect for every state visited."""
        data: dict[str, Any] = {"flow": self.c.flow.id,
                                "name": name or f"simulated call to {self.c.flow.id}",
                                "clock": self.clock.isoformat(), "steps": self.steps}
        if self.turn.outcome:
            data["outcome"] = self.turn.outcome
        return dump(data)


def _step_dict(s: Step) -> dict[str, Any]:
    if s.kind in ("press", "dial_result"):
        return {s.kind: s.value}
    if s.kind == "say":
        return {"say": s.value} | ({} if s.confidence is None else {"confidence": s.confidence})
    return {s.kind: True}


def run_console(session: Session, lines: Iterable[str], echo: Callable[[str], None],
                prompt: Callable[[], None] | None = None) -> None:
    """Run ``session`` over input ``lines`` until the call ends or the input does.

    Args:
        session: A new session.
        lines: Typed lines (a file object works).
        echo: Prints one line.
        prompt: Called before reading each line (on a terminal: show ``> ``).
    """
    for text in session.start():
        echo(text)
    if prompt:
        prompt()
    for raw in lines:
        for text in session.handle(raw.rstrip("\r\n")):
            echo(text)
        if session.ended:
            return
        if prompt:
            prompt()
    echo(f"(end of input) the caller {session.where()}")


def open_flow(flow: str, flows_dir: str) -> Compiled:
    """Compile ``flow``: a flow id in ``flows_dir`` or the path of a flow file.

    Raises:
        LookupError: No such flow; the message suggests the closest flow ids.
        ivr.flowlang.diagnostics.FlowError: The flow file has errors.
    """
    from ivr.flowlang.catalog import compile_text, load_dir

    if os.path.isfile(flow):
        with open(flow, encoding="utf-8") as fh:
            return compile_text(fh.read(), flow)
    cat, _failed = load_dir([flows_dir])
    found = cat.get(flow)
    if found is None:
        close = difflib.get_close_matches(flow, sorted(cat.current), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise LookupError(f"no flow {flow!r} in {flows_dir}/.{hint}")
    return found
