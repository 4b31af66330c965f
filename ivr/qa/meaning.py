"""The glue between the inbox's grouping and the optional MiniLM model (``ivr[semantic]``).

:func:`embedder` loads :class:`ivr.semantic.Embedder` once per process (lazily: nothing is
imported until the first inbox grouping asks) and remembers why when it cannot
(:class:`ivr.semantic.ModelUnavailable`: the extra is not installed, or the model file does
not load). :func:`group` is what ``ivr inbox --top`` and the console call: grouping by
meaning with the model, the lexical :func:`ivr.qa.grouping.top` without it, and a note
saying which.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.flowlang.lru import LRU
from ivr.qa.grouping import Embed, Group, by_meaning, top

log = logging.getLogger(__name__)
VECTORS = 4096
"""Utterance vectors kept per process (about 1.5 KB each): an inbox page re-grouped a
minute later embeds only what is new."""
_lock = threading.Lock()
_loaded: dict[str, Any] = {}


@dataclass(frozen=True)
class Grouped:
    """Groups, and how they were made: ``by_meaning``, else ``note`` says why not."""

    groups: list[Group]
    by_meaning: bool
    note: str = ""


def embedder() -> tuple[Embed | None, str]:
    """The process's embed function, or None and the reason it is unavailable."""
    with _lock:
        if "embed" not in _loaded:
            _loaded["embed"], _loaded["why"] = _load()
    return _loaded["embed"], _loaded["why"]


def _load(model_path: Path | None = None) -> tuple[Embed | None, str]:
    """An embed function over the model (``model_path``: the installed one), or None and
    why it cannot load (logged once)."""
    try:
        from ivr.semantic import Embedder, ModelUnavailable
    except ImportError as exc:  # numpy missing: the extra is not installed
        return None, f"install ivr[semantic] ({exc})"
    try:
        model = Embedder(model_path)
    except ModelUnavailable as exc:
        log.warning("inbox: grouping by spelling, not meaning: %s", exc)
        return None, str(exc)
    cache = LRU[str, Any](VECTORS)

    def embed(texts: list[str]) -> Any:
        missing = [t for t in dict.fromkeys(texts) if cache.get(t) is None]
        if missing:
            for text, vec in zip(missing, model.embed(missing), strict=True):
                cache.add(text, vec)
        return [cache.get(t) for t in texts]

    return embed, ""


def group(utterances: Sequence[str], embed: Embed | None = None,
          use_model: bool = True) -> Grouped:
    """Group ``utterances`` by meaning when a model is there (``embed``, else the process's),
    by spelling otherwise, saying so once in ``note``."""
    why = ""
    if embed is None and use_model:
        embed, why = embedder()
    if embed is None:
        note = "grouped by spelling, not meaning: " + (why or "the model is off")
        return Grouped(top(utterances), False, note)
    return Grouped(by_meaning(utterances, embed), True)


def similarity(embed: Embed) -> Callable[[list[str], list[str]], float]:
    """texts, phrases → the cosine of the texts' mean vector to the nearest phrase."""
    import numpy as np

    def similar(texts: list[str], phrases: list[str]) -> float:
        said = np.asarray(embed(texts), dtype=np.float64).reshape(len(texts), -1)
        known = np.asarray(embed(phrases), dtype=np.float64).reshape(len(phrases), -1)
        mean = said.mean(axis=0) if len(said) else said
        norm = float(np.linalg.norm(mean)) if len(said) else 0.0
        return float((known @ (mean / norm)).max()) if norm and len(known) else 0.0

    return similar
