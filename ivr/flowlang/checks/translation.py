"""Translation checks: every text a caller can hear exists in every language the flow
offers, language keys never shadow a menu or the human, no translation for a language the
flow does not declare. Run with the reference phase of :mod:`ivr.flowlang.checks.rules`.
"""

from __future__ import annotations

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.model import Flow, Kind, State, prompt_key
from ivr.flowlang.positions import Source


def check_translations(flow: Flow, src: Source) -> list[Problem]:
    """IVR206 missing translation, IVR207 language key collision, IVR208 unknown language,
    W206 menu phrases not translated (keys still work).

    PASS: ``languages: {es-US: ...}`` and every state has ``translations: {es-US: {ask: ..}}``.
    FAIL: a state without its es-US text.
    """
    codes = {lang.code for lang in flow.languages}
    out = _keys(flow, src)
    for s in flow.states.values():
        for code in s.translations:
            if code not in codes:
                out.append(_undeclared(src, code, ("states", s.name, "translations", code)))
        for code in sorted(codes):
            out += _missing(s, code, src)
    for code in flow.human.translations:
        if code not in codes:
            out.append(_undeclared(src, code, ("human", "translations", code)))
    return out


def _undeclared(src: Source, code: str, path: tuple[str, ...]) -> Problem:
    return src.problem("IVR208", f"translation for '{code}', which the flow does not offer",
                       path, "add it under languages: (with a key and an offer) or remove it",
                       key=True)


def _missing(s: State, code: str, src: Source) -> list[Problem]:
    if s.kind is Kind.HOURS:
        return []
    tr = s.translations.get(code) or {}
    base = ("states", s.name)
    needed = [prompt_key(s.kind)] + (["reprompt"] if s.reprompt else [])
    out = [src.problem("IVR206", f"state '{s.name}' has no {code} text for '{key}'", base,
                       f"add translations: {{{code}: {{{key}: \"...\"}}}}", key=True)
           for key in needed if not tr.get(key)]
    intents = tr.get("intents") or {}
    for i in s.intents:
        got = intents.get(i.name) or {}
        if i.confirm and not got.get("confirm"):
            out.append(src.problem("IVR206", f"intent '{i.name}' in '{s.name}' has no {code} "
                                   "confirm", base + ("intents", i.name, "confirm"),
                                   f"add it under translations.{code}.intents.{i.name}"))
        if i.phrases and not got.get("phrases"):
            out.append(src.problem("W206", f"intent '{i.name}' in '{s.name}' has no {code} "
                                   "phrases: callers of that language must use keys",
                                   base + ("intents", i.name, "phrases"),
                                   f"add phrases under translations.{code}.intents.{i.name}"))
    return out


def _keys(flow: Flow, src: Source) -> list[Problem]:
    out = []
    for lang in flow.languages:
        path = ("languages", lang.code, "key")
        if lang.key in flow.human.keys:
            out.append(src.problem("IVR207", f"language key '{lang.key}' is the human key", path,
                                   "pick a key no menu uses"))
        for s in flow.states.values():
            for i in s.intents:
                if lang.key in i.keys:
                    out.append(src.problem(
                        "IVR207", f"language key '{lang.key}' ({lang.code}) is also "
                        f"'{i.name}' in '{s.name}'", path,
                        "a language key works in every menu: pick a key no menu uses"))
    return out
