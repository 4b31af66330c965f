"""The checker: phases after structure, one small function per problem code.

Phases run in order (kinds → references → graph → telephony); a phase with errors stops
the later ones, because a graph with dangling edges proves nothing. Every rule here is
the static half of the product's promise: a caller can always reach a human.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ivr.flowlang import phone
from ivr.flowlang.checks.speech import check_speech
from ivr.flowlang.checks.translation import check_translations
from ivr.flowlang.diagnostics import Problem, Severity, expected_one_of
from ivr.flowlang.hours import HoursError, holiday_calendar, parse_days, parse_ranges, zone
from ivr.flowlang.model import HUMAN, OTHER, PROMPT_KEYS, WAITING, Flow, Kind, build_flow, kind_of
from ivr.flowlang.positions import Path, Source
from ivr.flowlang.schema import check_structure
from ivr.flowlang.source import gc_paused


def check(src: Source) -> tuple[Flow | None, list[Problem]]:
    """Run every phase on a loaded source. Returns the flow when it has no errors."""
    with gc_paused():  # linear time on large flows (see ivr.flowlang.source.gc_paused)
        return _check(src)


def _check(src: Source) -> tuple[Flow | None, list[Problem]]:
    problems = list(src.problems)
    if _has_errors(problems):
        return None, problems
    for phase in (check_structure, check_kinds):
        problems += phase(src)
        if _has_errors(problems):
            return None, problems
    flow = build_flow(src.data, "")
    for graph_phase in (check_references, check_graph, check_telephony, check_speech,
                        check_translations):
        problems += graph_phase(flow, src)
        if _has_errors(problems):
            return None, problems
    return flow, problems


def _has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)


def _states(src: Source) -> dict[str, Any]:
    states = src.data.get("states", {})
    return states if isinstance(states, dict) else {}


# --- kinds: IVR105, IVR106 -------------------------------------------------------------

_NEEDS: dict[Kind, tuple[str, ...]] = {
    Kind.SAY: ("next",), Kind.MENU: ("intents",), Kind.COLLECT: ("collect", "next"),
    Kind.VOICEMAIL: ("next",), Kind.CAPTURE: (),
}
_ALLOWED: dict[Kind, set[str]] = {
    Kind.SAY: {"say", "next"}, Kind.MENU: {"ask", "intents", "reprompt", "retries"},
    Kind.COLLECT: {"ask", "collect", "next", "reprompt", "retries"},
    Kind.CAPTURE: {"capture", "then", "record"}, Kind.VOICEMAIL: {"voicemail", "next"},
    Kind.GOODBYE: {"goodbye"}, Kind.HOURS: {"hours"},
}
for _kind, _keys in _ALLOWED.items():
    if _kind is not Kind.HOURS:
        _keys.add("translations")
    if _kind in (Kind.MENU, Kind.COLLECT, Kind.CAPTURE):  # the prompts that listen
        _keys.add("speech")


def check_kinds(src: Source) -> list[Problem]:
    """IVR105: a state has exactly one kind. IVR106: keys that kind needs or cannot use.

    PASS: ``{ask: ..., intents: ...}``. FAIL: ``{say: ..., ask: ...}``, ``{next: x}``.
    """
    out = []
    for name, data in _states(src).items():
        base = ("states", name)
        if name == HUMAN:
            out.append(src.problem("IVR104", "a state may not be called 'human'", base,
                                   "'human' is reserved for the escape hatch (goto: human); "
                                   "rename this state, e.g. 'human_intro'", key=True))
            continue
        kinds = [k for k in PROMPT_KEYS if k in data]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            out.append(src.problem("IVR105", f"state '{name}' must have exactly one of "
                                   f"{', '.join(PROMPT_KEYS)} (found {found})", base,
                                   "split it into two states joined by next:", key=True))
            continue
        kind = kind_of(data)
        assert kind is not None
        for need in _NEEDS.get(kind, ()):
            if need not in data:
                out.append(src.problem("IVR106", f"state '{name}' ({kind.value}) needs "
                                       f"'{need}'", base, f"add '{need}:' to it", key=True))
        for key in data:
            if key not in _ALLOWED[kind]:
                allowed = ", ".join(sorted(_ALLOWED[kind]))
                out.append(src.problem("IVR106", f"'{key}' does nothing in a {kind.value} "
                                       f"state", base + (key,), f"a {kind.value} state takes: "
                                       f"{allowed}", key=True))
    return out


# --- references: IVR201-IVR204 -----------------------------------------------------------

def _edge_paths(flow: Flow) -> Iterable[tuple[str, str, Path]]:
    """(state, target, yaml path of the target) for every written edge."""
    for s in flow.states.values():
        base: Path = ("states", s.name)
        for i in s.intents:
            yield s.name, i.goto, base + ("intents", i.name, "goto")
        if s.kind is Kind.HOURS:
            yield s.name, s.open, base + ("hours", "open")
            yield s.name, s.closed, base + ("hours", "closed")
        elif s.next:
            yield s.name, s.next, base + ("then" if s.kind is Kind.CAPTURE else "next",)
        if s.kind in (Kind.MENU, Kind.COLLECT):
            yield s.name, s.retries.then, base + ("retries", "then")


def _unknown(src: Source, target: str, names: list[str], path: Path, what: str,
             code: str = "IVR201") -> Problem:
    hint = expected_one_of(target, sorted(names), most=12)
    return src.problem(code, f"{what} goes to unknown state '{target}'", path, hint)


def check_references(flow: Flow, src: Source) -> list[Problem]:
    """IVR201 unknown targets, IVR202 unknown start, IVR203 duplicate keys in a menu,
    IVR204 human.when_closed is not a voicemail state.

    PASS: ``next: main_menu`` with a state ``main_menu``. FAIL: ``next: main_mneu``.
    """
    out = []
    names = [*flow.states, HUMAN]
    inherited = False
    for state, target, path in _edge_paths(flow):
        if target in flow.states or target == HUMAN:
            continue
        if src.pos(path) != src.pos(path[:-1]):
            out.append(_unknown(src, target, names, path, f"state '{state}': {path[-1]}"))
        elif not inherited:  # the top-level retries.then, inherited: report it once
            inherited = True
            out.append(_unknown(src, target, names, ("retries", "then"), "retries.then"))
    if flow.start not in flow.states:
        out.append(_unknown(src, flow.start, list(flow.states), ("start",), "start",
                            "IVR202"))
    out += _duplicate_keys(flow, src)
    wc = flow.human.when_closed
    if wc and (wc not in flow.states or flow.states[wc].kind is not Kind.VOICEMAIL):
        out.append(src.problem("IVR204", f"human.when_closed must name a voicemail state, not "
                               f"'{wc}'", ("human", "when_closed"),
                               "add a state with 'voicemail:' and name it here"))
    return out


def _duplicate_keys(flow: Flow, src: Source) -> list[Problem]:
    out = []
    for s in flow.states.values():
        seen: dict[str, str] = {}
        for i in s.intents:
            for n, key in enumerate(i.keys):
                if key in seen:
                    out.append(src.problem(
                        "IVR203", f"key '{key}' is used by both '{seen[key]}' and '{i.name}'",
                        ("states", s.name, "intents", i.name, "keys", n),
                        "each key may choose only one intent"))
                seen[key] = i.name
    return out


# --- graph: IVR301-IVR307 ------------------------------------------------------------------

def _edges(flow: Flow) -> dict[str, set[str]]:
    return {s.name: set(s.targets().values()) for s in flow.states.values()}


def _reaches(flow: Flow, goal: Callable[[str], bool]) -> set[str]:
    """States from which some path reaches a state satisfying ``goal``."""
    reverse: dict[str, set[str]] = {n: set() for n in [*flow.states, HUMAN]}
    for src_name, dests in _edges(flow).items():
        for d in dests:
            reverse.setdefault(d, set()).add(src_name)
    done = {n for n in reverse if goal(n)}
    queue = deque(done)
    while queue:
        for prev in reverse.get(queue.popleft(), ()):
            if prev not in done:
                done.add(prev)
                queue.append(prev)
    return done


def check_graph(flow: Flow, src: Source) -> list[Problem]:
    """The static proof of the escape hatch (each rule documents its PASS/FAIL)."""
    out: list[Problem] = []
    for rule in (_rule_reach_human, _rule_menu_other, _rule_retries_end_human,
                 _rule_human_keys, _rule_hangup_without_chance, _rule_unreachable):
        out += rule(flow, src)
    return out


def _rule_reach_human(flow: Flow, src: Source) -> list[Problem]:
    """IVR301: every state except goodbyes can reach a human (a voicemail with its callback
    counts: that is how a person is reached after hours). FAIL: a loop of announcements."""
    ok = _reaches(flow, lambda n: n == HUMAN or (
        n in flow.states and flow.states[n].kind is Kind.VOICEMAIL))
    return [src.problem("IVR301", f"state '{s.name}' can never reach a human", ("states", s.name),
                        "add a route to 'human' (e.g. an intent or retries.then: human)",
                        key=True)
            for s in flow.states.values() if s.kind is not Kind.GOODBYE and s.name not in ok]


def _rule_menu_other(flow: Flow, src: Source) -> list[Problem]:
    """IVR302: every menu has an 'other' intent. FAIL: a menu of only lost_card/balance."""
    return [src.problem("IVR302", f"menu '{s.name}' has no '{OTHER}' intent for callers whom "
                        "no option fits", ("states", s.name, "intents"),
                        f"add: {OTHER}: {{keys: [\"9\"], goto: other}}  (\"none of these\")",
                        key=True)
            for s in flow.states.values()
            if s.kind is Kind.MENU and OTHER not in {i.name for i in s.intents}]


def _rule_retries_end_human(flow: Flow, src: Source) -> list[Problem]:
    """IVR303: silence/no-match give-up never hangs up. FAIL: retries.then: goodbye."""
    out: dict[Path, Problem] = {}
    for s in flow.states.values():
        if s.kind in (Kind.MENU, Kind.COLLECT):
            dest = flow.states.get(s.retries.then)
            if dest is not None and dest.kind is Kind.GOODBYE:
                path: Path = ("states", s.name, "retries", "then")
                who = f"state '{s.name}'"
                if src.pos(path) == src.pos(path[:-1]):
                    path, who = ("retries", "then"), "retries.then"
                out.setdefault(path, src.problem(
                    "IVR303", f"{who}: after repeated silence or confusion the call "
                    f"hangs up at '{dest.name}'", path,
                    "use then: human (callers who cannot use the menu need a person)"))
    return list(out.values())


def _rule_human_keys(flow: Flow, src: Source) -> list[Problem]:
    """IVR304: a menu key shadows a global human key. FAIL: other: {keys: ["0"]}."""
    out = []
    for s in flow.states.values():
        for i in s.intents:
            for n, key in enumerate(i.keys):
                if key in flow.human.keys:
                    out.append(src.problem(
                        "IVR304", f"key '{key}' in '{s.name}' shadows the human key",
                        ("states", s.name, "intents", i.name, "keys", n),
                        f"'{key}' reaches a person in every state; pick another key"))
            for n, phrase in enumerate(i.phrases):
                if phrase.lower() in {p.lower() for p in flow.human.phrases}:
                    out.append(src.problem(
                        "W304", f"phrase '{phrase}' in '{s.name}' is a human phrase and will "
                        "never choose this intent",
                        ("states", s.name, "intents", i.name, "phrases", n), "remove it"))
    return out


def _rule_hangup_without_chance(flow: Flow, src: Source) -> list[Problem]:
    """IVR305: a goodbye reachable before the caller could choose anything or press 0.

    FAIL: start: welcome (say) → next: goodbye.
    """
    seen, queue = {flow.start}, deque([flow.start])
    out: list[Problem] = []
    while queue:
        s = flow.states.get(queue.popleft())
        if s is None:
            continue
        if s.kind is Kind.GOODBYE:
            out.append(src.problem("IVR305", f"the call can hang up at '{s.name}' before the "
                                   "caller could press a key or ask for a person",
                                   ("states", s.name), "put a menu (ask:) before it", key=True))
            continue
        if s.kind in WAITING:
            continue
        for d in s.targets().values():
            if d not in seen and d in flow.states:
                seen.add(d)
                queue.append(d)
    return out


def _rule_unreachable(flow: Flow, src: Source) -> list[Problem]:
    """W306: a state no call can ever enter. FAIL: a state nothing goes to."""
    seen, queue = {flow.start}, deque([flow.start])
    if flow.human.when_closed:
        seen.add(flow.human.when_closed)
        queue.append(flow.human.when_closed)
    while queue:
        s = flow.states.get(queue.popleft())
        for d in s.targets().values() if s else ():
            if d not in seen:
                seen.add(d)
                queue.append(d)
    return [src.problem("W306", f"state '{n}' is unreachable", ("states", n),
                        "remove it, or route to it from a menu", key=True)
            for n in flow.states if n not in seen]


# --- telephony: IVR401-IVR405, W406 ----------------------------------------------------------

def check_telephony(flow: Flow, src: Source) -> list[Problem]:
    """Phone numbers, time zones, hours and holiday calendars that exist."""
    out = []
    h = flow.human
    if not h.dial and not h.enqueue:
        out.append(src.problem("IVR405", "human has neither 'dial' nor 'enqueue'", ("human",),
                               "add dial: \"+1555...\" (E.164) or enqueue: <queue>", key=True))
    if h.dial and h.enqueue:
        out.append(src.problem("W406", "human.dial is never rung while human.enqueue is set: "
                               f"callers wait in the '{h.enqueue}' queue", ("human", "dial"),
                               "remove dial (the queue's own agents answer), or remove "
                               "enqueue to ring the number", key=True))
    if h.dial and not phone.is_e164(h.dial):
        out.append(src.problem("IVR401", f"'{h.dial}' is not a valid E.164 phone number",
                               ("human", "dial"), "write it as +<country><number>, e.g. "
                               "\"+15551230000\""))
    if flow.hours:
        out += _check_hours(flow, src)
    return out



def _check_hours(flow: Flow, src: Source) -> list[Problem]:
    hours = flow.hours
    assert hours is not None
    out = []
    checks: list[tuple[str, Path, Callable[[], object]]] = [
        ("IVR402", ("hours", "timezone"), functools.partial(zone, hours.timezone))]
    if hours.holidays:
        checks.append(("IVR404", ("hours", "holidays"),
                       functools.partial(holiday_calendar, hours.holidays)))
    for days, ranges in hours.open:
        checks.append(("IVR403", ("hours", "open", days), functools.partial(parse_days, days)))
        checks.append(("IVR403", ("hours", "open", days),
                       functools.partial(parse_ranges, ranges)))
    for code, path, fn in checks:
        try:
            fn()
        except HoursError as exc:
            out.append(src.problem(code, str(exc), path, _hours_hint(code)))
    return out


def _hours_hint(code: str) -> str:
    return {"IVR402": "use an IANA name such as America/New_York or Europe/London",
            "IVR404": "use a country code such as US, GB, CA, DE",
            "IVR403": "e.g. mon-fri: \"08:00-20:00\", sat: \"09:00-13:00\", sun: closed"}[code]
