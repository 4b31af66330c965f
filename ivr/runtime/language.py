"""A call's language: the flow's texts, intents and human phrases in the language the caller
chose (pure; the engine asks, nothing here does I/O).

A flow has a default ``language`` and may declare ``languages`` (each with a key and an
offer). A state's ``translations`` hold its texts per language under the same keys as in
the default language (``ask``, ``reprompt``, ``intents.<name>.phrases``, ...); ``ivr
validate`` proves every spoken text has each translation (IVR206).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ivr.flowlang.model import Flow, Intent, Language, State, prompt_key


def declared(flow: Flow, code: str) -> Language | None:
    """The flow's language ``code`` (None for the default language or an unknown code)."""
    return next((lang for lang in flow.languages if lang.code == code), None)


def by_key(flow: Flow, digits: str) -> Language | None:
    """The language chosen by pressing ``digits`` (None when no language has that key)."""
    return next((lang for lang in flow.languages if lang.key == digits), None)


def text(s: State, key: str, code: str) -> str:
    """State ``s``'s text ``key`` ("prompt" or "reprompt") in language ``code``."""
    default = s.prompt if key == "prompt" else s.reprompt
    if not code:
        return default
    yaml_key = prompt_key(s.kind) if key == "prompt" else key
    translated = (s.translations.get(code) or {}).get(yaml_key)
    return str(translated) if translated else default


def intents(s: State, code: str) -> tuple[Intent, ...]:
    """The state's intents with their phrases, vetoes and confirmations in ``code``.

    Phrases of the default language stay as well (callers mix languages; keys are the same).
    """
    if not code or code not in s.translations:
        return s.intents
    return _localised(s.intents, _frozen(s.translations[code].get("intents") or {}))


def _frozen(data: dict[str, dict[str, object]]) -> tuple[tuple[str, tuple[str, ...],
                                                                tuple[str, ...], str], ...]:
    def strs(v: object) -> tuple[str, ...]:
        return tuple(str(x) for x in v) if isinstance(v, list) else ()

    return tuple((name, strs(i.get("phrases")), strs(i.get("not")), str(i.get("confirm", "")))
                 for name, i in sorted(data.items()))


@lru_cache(maxsize=1024)
def _localised(base: tuple[Intent, ...], tr: tuple[tuple[str, tuple[str, ...],
                                                         tuple[str, ...], str], ...]
               ) -> tuple[Intent, ...]:
    by_name = {name: (phrases, negatives, confirm) for name, phrases, negatives, confirm in tr}
    out = []
    for i in base:
        phrases, negatives, confirm = by_name.get(i.name, ((), (), ""))
        out.append(replace(i, phrases=(*phrases, *i.phrases),
                           negatives=(*negatives, *i.negatives), confirm=confirm or i.confirm))
    return tuple(out)


def human_phrases(flow: Flow, code: str) -> tuple[str, ...]:
    """Phrases that reach a person in ``code`` (the default language's always work too)."""
    extra = (flow.human.translations.get(code) or {}).get("phrases") if code else None
    return (*[str(p) for p in extra or ()], *flow.human.phrases)


def callback_promise(flow: Flow, code: str) -> str:
    """When the caller is told to expect a call back, in ``code``."""
    tr = (flow.human.translations.get(code) or {}).get("callback_promise") if code else None
    return str(tr) if tr else flow.human.callback_promise


def voice(flow: Flow, code: str) -> tuple[str, str]:
    """(voice, language) for Say in ``code``."""
    lang = declared(flow, code)
    return (lang.voice, lang.code) if lang else (flow.voice, flow.language)
