"""The GetHuman standard (gethuman.com, "standard v1.0") as static checks.

``ivr validate --standard gethuman`` runs these after the flow's own checks passed. Each
rule R1..R9 has its code GH1..GH9, a position and a fix. Some rules are also guaranteed by
the engine itself (R7: every prompt is rendered inside a ``<Gather>``, so keys interrupt
it); those still check what the flow file can get wrong. See docs/gethuman.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.model import HUMAN, OTHER, Flow, Kind, State
from ivr.flowlang.positions import Source

MAX_PROMPT_WORDS = 60
MAX_MENU_OPTIONS = 5
MAX_RING_SECONDS = 60
Rule = Callable[[Flow, Source], list[Problem]]


def _words(text: str) -> int:
    return len(re.findall(r"[\w']+", text))


def r1_human_always_works(flow: Flow, src: Source) -> list[Problem]:
    """GH1: 0/"operator" always works: human keys exist and no menu reuses them or their
    phrases. PASS: keys ["0"] and no intent uses "0". FAIL: an intent with phrase "operator"."""
    out = []
    human_words = {p.lower() for p in flow.human.phrases}
    for word in ("operator", "agent"):
        if word not in human_words:
            out.append(src.problem("GH1", f"human.phrases lacks '{word}'", ("human", "phrases"),
                                   f"add '{word}': callers expect it to reach a person"))
    for s in flow.states.values():
        for i in s.intents:
            if set(i.keys) & set(flow.human.keys) or {p.lower() for p in i.phrases} & human_words:
                out.append(src.problem("GH1", f"intent '{i.name}' in '{s.name}' takes a human "
                                       "key or phrase", ("states", s.name, "intents", i.name),
                                       "remove the key/phrase: it must always reach a person"))
    return out


def r2_queue_wait_time(flow: Flow, src: Source) -> list[Problem]:
    """GH2: callers who wait hear their position and expected wait. A queue (human.enqueue)
    gets it built in: the wait page (ivr.runtime.waiting) announces position and expected wait on
    entering and at every update, and offers a callback. A direct dial has no estimate, so
    it may only ring briefly. PASS: human.enqueue, or human.dial with timeout <= 60.
    FAIL: human.dial without a queue and a timeout over MAX_RING_SECONDS."""
    h = flow.human
    if h.dial and not h.enqueue and h.timeout > MAX_RING_SECONDS:
        return [src.problem("GH2", f"callers may hear {h.timeout} s of ringing with no "
                            "wait-time estimate", ("human", "timeout"),
                            f"use a queue (human.enqueue: announces position and expected "
                            f"wait) or a timeout of at most {MAX_RING_SECONDS}")]
    return []


def r3_no_repeating(flow: Flow, src: Source) -> list[Problem]:
    """GH3: never make callers repeat themselves. Everything collected is whispered to the
    agent, except slots marked sensitive; a sensitive slot collected right before a human
    hand-off means the agent will ask again. FAIL: PIN collected, then next: human."""
    out = []
    for s in flow.states.values():
        if s.collect and s.collect.sensitive and s.next == HUMAN:
            out.append(src.problem("GH3", f"'{s.name}' collects a sensitive value and hands "
                                   "the caller to a person who cannot see it",
                                   ("states", s.name, "next"),
                                   "verify it before the hand-off, or don't ask for it"))
    return out


def r4_callback(flow: Flow, src: Source) -> list[Problem]:
    """GH4: a callback when nobody answers and after hours. The engine offers voicemail +
    callback when the human does not answer; with business hours, after-hours callers need a
    voicemail state. FAIL: hours set but no voicemail state and no human.when_closed."""
    has_vm = any(s.kind is Kind.VOICEMAIL for s in flow.states.values())
    if flow.hours and not (has_vm or flow.human.when_closed):
        return [src.problem("GH4", "business hours are set but callers outside them cannot "
                            "leave a message for a callback", ("hours",),
                            "add a voicemail state and name it in human.when_closed",
                            key=True)]
    return []


def r5_dtmf_fallback(flow: Flow, src: Source) -> list[Problem]:
    """GH5: every speech choice can also be made with keys. FAIL: an intent with phrases
    but no keys."""
    return [src.problem("GH5", f"intent '{i.name}' in '{s.name}' can only be spoken",
                        ("states", s.name, "intents", i.name), "give it a key, e.g. keys: [\"4\"]")
            for s in flow.states.values() for i in s.intents if not i.keys]


def r6_short_prompts(flow: Flow, src: Source) -> list[Problem]:
    """GH6: short prompts and short menus: at most MAX_PROMPT_WORDS words per prompt and
    MAX_MENU_OPTIONS options per menu (not counting 'other')."""
    out = []
    for s in flow.states.values():
        n = _words(s.prompt)
        if n > MAX_PROMPT_WORDS:
            out.append(src.problem("GH6", f"'{s.name}' prompt has {n} words (limit "
                                   f"{MAX_PROMPT_WORDS})", ("states", s.name, _prompt_key(s)),
                                   "split it, or move details after the choice"))
        options = [i for i in s.intents if i.name != OTHER]
        if len(options) > MAX_MENU_OPTIONS:
            out.append(src.problem("GH6", f"menu '{s.name}' has {len(options)} options (limit "
                                   f"{MAX_MENU_OPTIONS})", ("states", s.name, "intents"),
                                   "group options into a second-level menu", key=True))
    return out


def _prompt_key(s: State) -> str:
    return "ask" if s.kind in (Kind.MENU, Kind.COLLECT) else s.kind.value


def r7_barge_in(flow: Flow, src: Source) -> list[Problem]:
    """GH7: prompts are interruptible. The engine renders every prompt inside <Gather>;
    a flow can still bury the choice behind a long announcement chain. FAIL: three
    announcements in a row before the caller can choose."""
    out = []
    for s in flow.states.values():
        chain, cur = 0, s
        while cur.kind is Kind.SAY and chain < 4:
            chain += 1
            nxt = flow.states.get(cur.next)
            if nxt is None:
                break
            cur = nxt
        if chain >= 3:
            out.append(src.problem("GH7", f"'{s.name}' starts {chain} announcements in a row",
                                   ("states", s.name), "merge them into one short prompt",
                                   key=True))
    return out


def r8_never_disconnect(flow: Flow, src: Source) -> list[Problem]:
    """GH8: never disconnect a caller for errors or silence: retries end at a person.
    FAIL: retries.then pointing at a goodbye state (also IVR303) or retries of 0."""
    out = []
    for s in flow.states.values():
        if s.kind in (Kind.MENU, Kind.COLLECT) and s.retries.no_input == 0:
            out.append(src.problem("GH8", f"'{s.name}' gives up after the first silence",
                                   ("states", s.name, "retries", "no_input"),
                                   "allow at least one re-prompt (no_input: 1 or more)"))
    return out


def r9_language(flow: Flow, src: Source) -> list[Problem]:
    """GH9: a default language, and a key to switch where there is more than one. Flows
    declare one `language` today, so this passes when it is set."""
    if not flow.language:
        return [src.problem("GH9", "no default language", (), "add language: en-US")]
    return []


RULES: tuple[Rule, ...] = (r1_human_always_works, r2_queue_wait_time, r3_no_repeating,
                           r4_callback, r5_dtmf_fallback, r6_short_prompts, r7_barge_in,
                           r8_never_disconnect, r9_language)


def check_gethuman(flow: Flow, src: Source) -> list[Problem]:
    """Every GetHuman rule's problems for a flow that passed its own checks."""
    return [p for rule in RULES for p in rule(flow, src)]
