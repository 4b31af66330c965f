"""Checked Flow → ``transitions`` machine, compiled once per (flow id, content hash).

The compiler is thin on purpose: it produces the dict form ``transitions`` accepts
(``{"name": ...}`` states, ``{"trigger", "source", "dest"}`` transitions) and builds one
``Machine`` from it. Per request the engine reuses one model with ``set_state`` and a
trigger, which costs the same for 10 or 10,000 states. ``transitions`` is never trusted to
validate: :mod:`ivr.flowlang.checks.rules` has proved every reference before we get here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from ivr.flowlang.lru import LRU
from ivr.flowlang.model import HUMAN, Flow, Kind
from ivr.flowlang.source import gc_paused

VOICEMAIL = "__voicemail__"
"""Built-in voicemail used when the human does not answer and the flow names none."""
OFFER = "__callback_offer__"
"""Nobody answered: "press 1 for a call back, or stay on the line to leave a message"."""
WAIT = "__wait__"
"""Waiting in the flow's queue (``human.enqueue``): position, expected wait, hold audio."""
CALLBACK_CONFIRM = "__callback_confirm__"
"""In the queue, after pressing 1: "we'll call you back at <your number>: 1 yes, 2 another"."""
CALLBACK_NUMBER = "__callback_number__"
"""In the queue: the caller types the number to call back."""
END = "__end__"
"""Where every finished call rests."""
BUILT_IN = (HUMAN, OFFER, VOICEMAIL, WAIT, CALLBACK_CONFIRM, CALLBACK_NUMBER, END)
"""The engine's own states, in every compiled flow besides the flow's states."""
QUEUE_STATES = frozenset({WAIT, CALLBACK_CONFIRM, CALLBACK_NUMBER})
"""States whose TwiML runs inside Twilio's queue (waitUrl documents: no Dial or Record)."""


class _Model:
    state: str


@dataclass
class Compiled:
    """A compiled flow: the model, its ``transitions`` definitions, the machine built from
    them and the destination table read off that machine."""

    flow: Flow
    states: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    machine: Machine = field(repr=False)
    table: dict[tuple[str, str], str] = field(repr=False)

    def fire(self, state: str, trigger: str) -> str:
        """Destination of ``trigger`` from ``state``; KeyError when there is no such edge."""
        try:
            return self.table[(state, trigger)]
        except KeyError:
            raise KeyError(f"no transition {trigger!r} from {state!r}") from None

    def edges(self) -> set[tuple[str, str, str]]:
        """Every (source, trigger, dest) the flow itself defines (for coverage)."""
        return {(t["source"], t["trigger"], t["dest"]) for t in self.transitions
                if t["source"] != "*"}


def definitions(flow: Flow) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``transitions`` dict form of ``flow``: (states, transitions)."""
    states: list[dict[str, Any]] = [{"name": s.name} for s in flow.states.values()]
    states += [{"name": name} for name in built_in_states(flow)]
    trans: list[dict[str, Any]] = []
    for s in flow.states.values():
        for trigger, dest in s.targets().items():
            trans.append({"trigger": trigger, "source": s.name, "dest": dest})
        if s.kind is Kind.GOODBYE:
            trans.append({"trigger": "end", "source": s.name, "dest": END})
    trans += [{"trigger": trigger, "source": source, "dest": dest}
              for source, trigger, dest in _built_in_edges(flow)]
    return states, trans


def built_in_states(flow: Flow) -> tuple[str, ...]:
    """The engine's own states a call of ``flow`` can be in: the built-in voicemail only
    when the flow names no ``when_closed`` state, the queue's only for ``enqueue``."""
    out = [HUMAN, OFFER]
    if not flow.human.when_closed:
        out.append(VOICEMAIL)
    if flow.human.enqueue:
        out += [WAIT, CALLBACK_CONFIRM, CALLBACK_NUMBER]
    return (*out, END)


def _built_in_edges(flow: Flow) -> list[tuple[str, str, str]]:
    """(source, trigger, dest) of the engine's own states: the person, the callback offer,
    voicemail, the queue and its callback choice. ``*`` is every state."""
    closed = flow.human.when_closed or VOICEMAIL
    edges = [
        ("*", "human", HUMAN), ("*", "end", END),
        (HUMAN, "closed", closed), (HUMAN, "unavailable", closed), (HUMAN, "offer", OFFER),
        (OFFER, "decline", closed),
    ]
    if not flow.human.when_closed:
        edges.append((VOICEMAIL, "next", END))
    if not flow.human.enqueue:
        return edges
    return edges + [
        (HUMAN, "wait", WAIT),
        (WAIT, "tick", WAIT), (WAIT, "keep", WAIT), (WAIT, "choose", CALLBACK_CONFIRM),
        (WAIT, "number", CALLBACK_NUMBER),
        (CALLBACK_CONFIRM, "number", CALLBACK_NUMBER), (CALLBACK_CONFIRM, "keep", WAIT),
        (CALLBACK_CONFIRM, "tick", WAIT),
        (CALLBACK_NUMBER, "keep", WAIT), (CALLBACK_NUMBER, "tick", WAIT),
        (CALLBACK_NUMBER, "retry", CALLBACK_NUMBER),
        # the queue failed while the caller waited (queue-full, error): as from the person
        (WAIT, "offer", OFFER), (WAIT, "unavailable", closed),
        (CALLBACK_CONFIRM, "offer", OFFER),  # only a caller with a number gets here
        (CALLBACK_NUMBER, "offer", OFFER), (CALLBACK_NUMBER, "unavailable", closed),
    ]


def compile_flow(flow: Flow) -> Compiled:
    """Build the machine for a checked flow (call through :func:`compiled` to cache)."""
    states, trans = definitions(flow)
    model = _Model()
    with gc_paused():
        machine = Machine(model=model, states=states, transitions=trans, initial=flow.start,
                          auto_transitions=False, send_event=True,
                          ignore_invalid_triggers=False)
    return Compiled(flow, states, trans, machine, destinations(machine))


def destinations(machine: Machine) -> dict[tuple[str, str], str]:
    """Every (source, trigger) → dest the machine allows (first matching transition wins,
    as ``transitions`` fires it: none of ours has conditions)."""
    table: dict[tuple[str, str], str] = {}
    for trigger, event in machine.events.items():
        for source, candidates in event.transitions.items():
            if candidates and candidates[0].dest is not None:
                table[(source, trigger)] = str(candidates[0].dest)
    return table


_CACHE: LRU[tuple[str, str], Compiled] = LRU(64)  # the app sets compiled_cache_size


def compiled(flow: Flow) -> Compiled:
    """The compiled form of ``flow``, built once per (flow id, version) while it stays among
    the ``compiled_cache_size`` most recently used (then it is simply built again)."""
    key = (flow.id, flow.version)
    hit = _CACHE.get(key)
    if hit is not None and (hit.flow is flow or flow.version):
        return hit
    if not flow.version:  # an unversioned flow (tests, tools): the newest build wins
        _CACHE.put(key, built := compile_flow(flow))
        return built
    return _CACHE.add(key, compile_flow(flow))


def resize_cache(size: int) -> None:
    """Keep at most ``size`` compiled versions in this process (``compiled_cache_size``)."""
    _CACHE.resize(size)
