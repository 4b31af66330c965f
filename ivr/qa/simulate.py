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
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ivr.flowlang.machine import QUEUE_STATES, Compiled
from ivr.qa.drivers import EngineDriver, Observed
from ivr.qa.transcript import Step, Transcript
from ivr.qa.transcript_schema import DEFAULT_CALLER
from ivr.qa.writer import dump
from ivr.runtime.work import DEFAULTS, Options

HELP = """\
  1, 0#, 12345       press keys (a trailing # ends a digit entry, as on a phone)
  say <words>        speak, e.g.  say I lost my card
  say <words> @0.4   speak with a speech-recognition confidence of 0.4
  (empty line)       stay silent (while recording: no message)
  answer             while a person is rung or you wait in line: a person answers
  noanswer | busy    while a person is rung: nobody answers / the line is busy
  leg STATUS         while a person is rung: Twilio reports their phone's progress
                     (ringing, answered, completed), as a Dial's status callback does
  failed | full      the call to the person fails / the queue is full
  wait [POS] [SECS]  while you wait in line: Twilio asks for the next announcement
                     (you are number POS, having waited SECS seconds)
  record [SECS|none] while recording: a message of SECS seconds ends (or none)
  (any text)         while recording a message: the message ends
  hangup             hang up
  help               this list"""

COMMANDS = ("say", "answer", "noanswer", "busy", "failed", "full", "wait", "record", "leg",
            "hangup", "help")
_DIAL = {"answer": "completed", "noanswer": "no-answer", "no-answer": "no-answer",
         "busy": "busy", "failed": "failed", "full": "queue-full"}
_WAIT = re.compile(r"^wait(?:\s+(?P<pos>[0-9]{1,5}))?(?:\s+(?P<secs>[0-9]{1,5}))?\s*$", re.I)
_LEG = re.compile(r"^leg\s+(?P<status>initiated|ringing|answered|completed)\s*$", re.I)
_RECORD = re.compile(r"^record(?:\s+(?P<secs>[0-9]{1,4}|none))?\s*$", re.I)

OUTCOMES = {
    "human": "reached a person (human)",
    "other": "said why they called in their own words, then went to a person (other)",
    "voicemail": "left a voicemail for a callback (voicemail)",
    "callback": "asked for a call back and will be called (callback)",
    "no-message": "left no message and gave no number to call back (no-message)",
    "hangup": "hung up (hang-up)",
    "completed": "was done and heard goodbye (completed)",
    "callback-machine": "was a callback a machine answered: a message, another try later "
                        "(callback-machine)",
    "callback-fax": "was a callback a fax answered (callback-fax)",
}

_SAY = re.compile(r"^say(?:\s+(?P<words>.*?))??(?:(?:^|\s+)@(?P<conf>\S*))?\s*$", re.I)


class InputError(ValueError):
    """A line the simulator does not understand; the message says what to type instead."""


def parse_line(line: str, turn: Observed) -> Step | None:
    """The caller step for a typed ``line``; None for ``help``.

    Raises:
        InputError: For an unknown command or input that does not fit the moment.
    """
    text = line.strip()
    word = text.lower()
    if word in ("help", "?"):
        return None
    if word == "hangup":
        return Step(0, 0, "hangup")
    moment = _moment(turn)
    if word in _DIAL:
        if moment not in ("ringing", "queued"):
            raise InputError(f"'{word}' only works while a person is being rung or you wait "
                             "in line")
        return Step(0, 0, "dial_result", _DIAL[word])
    if (m := _WAIT.match(text)) and moment == "queued":
        return Step(0, 0, "wait", seconds=int(m["secs"] or 0), position=int(m["pos"] or 0))
    if (m := _RECORD.match(text)) and moment == "recording":
        secs = m["secs"] or "10"
        return Step(0, 0, "recording", seconds=0 if secs.lower() == "none" else int(secs))
    if (m := _LEG.match(text)) and moment == "ringing":
        return Step(0, 0, "leg", m["status"].lower())
    if moment == "ringing":
        raise InputError("a person is being rung: type answer, noanswer or busy (or failed), "
                         "or leg ringing|answered|completed")
    if moment == "recording" and not ("gather" in turn.actions and
                                      re.fullmatch(r"[0-9*#]+", text)):
        return Step(0, 0, "recording", seconds=max(2, len(text.split())) if text else 0)
    return _caller_input(text, word, moment)


def _moment(turn: Observed) -> str:
    """What the caller is doing: ringing a person, queued, recording, or at a prompt."""
    if "dial" in turn.actions:
        return "ringing"
    if "enqueue" in turn.actions or "leave" in turn.actions or \
            (turn.state or "") in QUEUE_STATES:
        return "queued"
    return "recording" if "record" in turn.actions else "prompt"


def _caller_input(text: str, word: str, moment: str) -> Step:
    if not text:
        return Step(0, 0, "silence")
    if re.fullmatch(r"[0-9*#]+", text):
        return Step(0, 0, "press", text)
    m = _SAY.match(text)
    if m:
        return _say(m["words"] or "", m["conf"])
    if word.split()[0] in COMMANDS:
        raise InputError(f"'{word.split()[0]}' does not fit now: type help for the list")
    close = difflib.get_close_matches(word.split()[0], COMMANDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"unknown input '{text}'{hint}: type help for the list")


def _say(words: str, conf: str | None) -> Step:
    """``say WORDS [@CONFIDENCE]``: what the caller says, and how sure the recogniser was."""
    if not words.strip():
        raise InputError("say what? e.g. say lost card (or say lost card @0.4 for words the "
                         "recogniser was unsure of)")
    if conf is None:
        return Step(0, 0, "say", words, None)
    try:
        value = float(conf)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InputError(f"confidence '@{conf}' must be a number from 0 to 1, e.g. say "
                         f"{words} @0.4")
    return Step(0, 0, "say", words, value)


class Session:
    """One simulated call: feed it lines, get back what to print.

    Args:
        c: The compiled flow.
        clock: The time of the call (business hours); default now.
    """

    def __init__(self, c: Compiled, clock: datetime | None = None,
                 caller: str = DEFAULT_CALLER, options: Options = DEFAULTS) -> None:
        self.c = c
        self.caller = caller
        self.clock = clock or datetime.now(UTC).replace(microsecond=0)
        self.driver = EngineDriver(c, sid="CAsimulate", options=options)
        self.turn = Observed(None, [], [])
        self.steps: list[dict[str, Any]] = []
        self.said: list[str] = []
        """Everything the caller heard since the last typed line (one turn, or more when the
        call moved on by itself, e.g. leaving the queue)."""

    @property
    def ended(self) -> bool:
        return self.turn.ended

    def start(self) -> list[str]:
        """Start the call; the lines showing what the caller hears first."""
        t = Transcript("<simulate>", self.c.flow.id, "simulate", (), self.clock,
                       caller=self.caller)
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
        ringing = self.turn
        self.turn = self.driver.send(s)
        if s.kind == "leg" and not self.turn.ended:  # a report: the Dial rings on
            self.turn = replace(self.turn, actions=ringing.actions)
            self.steps.append(_step_dict(s))
            return [f"[{self.turn.state}] 📞 the person's phone: {s.value}"]
        self.said = list(self.turn.said)
        self.steps.append(_step_dict(s))
        self.steps.append({"expect": {"state": self.turn.state}})
        shown = self.show(self.turn)
        if "leave" in self.turn.actions and not self.turn.ended:
            # the caller left the queue: Twilio reports it to the Enqueue's action URL
            shown += self.handle_step(Step(0, 0, "dial_result", "leave"))
        return shown

    def handle_step(self, s: Step) -> list[str]:
        """Apply a caller step the call itself causes (not typed); the lines to print."""
        self.turn = self.driver.send(s)
        self.said += self.turn.said
        self.steps.append(_step_dict(s))
        self.steps.append({"expect": {"state": self.turn.state}})
        return self.show(self.turn)

    def show(self, turn: Observed) -> list[str]:
        """What the caller hears, tagged with the state, and what they may do next."""
        tag = f"[{turn.state}]"
        out = [f"{tag} 🔊 {' '.join(s.split())}" for s in turn.said]
        if turn.ended:
            out.append(f"📴 call ended: the caller {self.where()}")
        elif _moment(turn) == "ringing":
            out.append(f"{tag} 📞 ringing a person... (answer, noanswer or busy)")
        elif _moment(turn) == "queued":
            out.append(f"{tag} ⏳ waiting in line... (wait [POS] [SECS], answer, keys)")
        elif "record" in turn.actions:
            out.append(f"{tag} ⏺  recording after the tone... (type the message, or Enter "
                       "for none)")
        return out

    def where(self) -> str:
        """Where the call went, in words."""
        outcome = self.turn.outcome or ""
        return OUTCOMES.get(outcome, f"is still in '{self.turn.state}' (no outcome yet)")

    def transcript(self, name: str = "") -> str:
        """The session as transcript YAML, with an expect for every state visited."""
        data: dict[str, Any] = {"flow": self.c.flow.id,
                                "name": name or f"simulated call to {self.c.flow.id}",
                                "clock": self.clock.isoformat()}
        if self.caller != DEFAULT_CALLER:
            data["caller"] = self.caller or "anonymous"
        data["steps"] = self.steps
        if self.turn.outcome:
            data["outcome"] = self.turn.outcome
        return dump(data)


def _step_dict(s: Step) -> dict[str, Any]:
    if s.kind in ("press", "dial_result", "leg"):
        return {s.kind: s.value}
    if s.kind == "recording":
        return {"record": {"seconds": s.seconds} if s.seconds else "none"}
    if s.kind == "wait":
        return {"wait": {"position": s.position, "seconds": s.seconds}}
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
    from ivr.flowlang.diagnostics import FlowError, errors_in

    if os.path.isfile(flow):
        with open(flow, encoding="utf-8") as fh:
            return compile_text(fh.read(), flow)
    cat, failed = load_dir([flows_dir])
    found = cat.get(flow)
    broken = [c for c in failed if c.flow is not None and c.flow.id == flow]
    if found is None and broken:  # the flow exists but cannot run: say why, where
        raise FlowError([p for c in broken for p in errors_in(c.problems)])
    if found is None:
        close = difflib.get_close_matches(flow, sorted(cat.current), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise LookupError(f"no flow {flow!r} in {flows_dir}/.{hint}")
    return found
