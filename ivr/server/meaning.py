"""The meaning guard of ``semantic_matching: true``, loaded beside the app (never in a call).

:func:`start` loads ``ivr[semantic]``'s model in a background thread, so a start-up (and
the first build of the CPU model, a few seconds) never delays a call: until it is ready,
and for good when it cannot load, the lexical matcher decides alone, and the log says
which. Then it computes the vectors of every menu of the start-up flows, so the first
caller at a menu does not wait for them either. :func:`guard` is what a turn asks for
(:func:`ivr.server.promises.engine_options` puts it in the engine's ``Options``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, current_app

from ivr.flowlang.machine import Compiled
from ivr.flowlang.model import Kind
from ivr.runtime import language
from ivr.runtime.meaning import Meaning

if TYPE_CHECKING:  # numpy and the model come with ivr[semantic], imported when it loads
    from ivr.semantic.guard import MeaningGuard

log = logging.getLogger(__name__)
KEY = "ivr.meaning"


class Loader:
    """The guard once loaded (None before, and after a failure); ``ready`` when settled."""

    def __init__(self) -> None:
        self.guard: Meaning | None = None
        self.ready = threading.Event()
        self.problem = ""
        self.how = ""

    def load(self, cache_dir: Path, flows: Iterable[Compiled]) -> None:
        began = time.perf_counter()
        try:
            from ivr.semantic.load import load_guard

            guard, how = load_guard(cache_dir)
        except Exception as exc:  # noqa: BLE001 - any failure: lexical, and say so
            self.problem = f"{type(exc).__name__}: {exc}"
            log.warning("semantic_matching is on but the model cannot load (%s): the lexical "
                        "matcher decides alone", self.problem)
            self.ready.set()
            return
        warmed = _warm(guard, flows)
        self.how = f"{how}, {warmed} menus ready in {time.perf_counter() - began:.1f} s"
        self.guard = guard
        log.info("semantic matching on: %s", self.how)
        self.ready.set()


def _warm(guard: MeaningGuard, flows: Iterable[Compiled]) -> int:
    from ivr.semantic.guard import understands

    menus = {language.intents(s, "") for c in flows for s in c.flow.states.values()
             if s.kind is Kind.MENU and understands(c.flow.language)}
    for intents in menus:
        guard.menu(intents)
    return len(menus)


def start(app: Flask, cache_dir: str, flows: Callable[[], list[Compiled]]) -> Loader:
    """Attach a :class:`Loader` to ``app`` and load in the background."""
    loader = app.extensions[KEY] = Loader()
    log.info("semantic matching: loading the model (the lexical matcher decides until then)")
    thread = threading.Thread(target=loader.load, args=(Path(cache_dir), flows()),
                              name="ivr-meaning", daemon=True)
    thread.start()
    return loader


def status(app: Flask, wait: float = 0.0) -> str:
    """One line for a person starting the server ('' when semantic matching is off),
    after waiting up to ``wait`` seconds for the model."""
    loader: Loader | None = app.extensions.get(KEY)
    if loader is None:
        return ""
    if not loader.ready.wait(wait):
        return "Semantic matching: on, still loading (the lexical matcher decides until then)"
    if loader.guard is None:
        return (f"Semantic matching: OFF, the model cannot load ({loader.problem}); the "
                "lexical matcher decides alone")
    return f"Semantic matching: on ({loader.how})"


def guard() -> Meaning | None:
    """The current app's guard: None when semantic matching is off or not (yet) loaded."""
    loader: Loader | None = current_app.extensions.get(KEY)
    return loader.guard if loader is not None else None
