"""Load the meaning guard: the CPU model (built on first use), else the wheel's model."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from ivr.semantic import Embedder
from ivr.semantic.fast import fast_model
from ivr.semantic.guard import MeaningGuard, load_bank

log = logging.getLogger(__name__)


def load_guard(cache_dir: Path) -> tuple[MeaningGuard, str]:
    """The guard and which model it runs, loaded once per process and cache directory (the
    server, ``ivr replay``'s check and its replays, the bench share it). Raises
    ``ModelUnavailable`` (or any error of a broken install) when no model can be loaded;
    a failure is not remembered, so the next call tries again."""
    return _load(str(Path(cache_dir).resolve()))


@functools.lru_cache(maxsize=8)
def _load(cache_dir: str) -> tuple[MeaningGuard, str]:
    try:
        path: Path | None = fast_model(Path(cache_dir))
        how = f"MiniLM re-quantised for this CPU ({path})"
    except Exception as exc:  # noqa: BLE001 - the wheel's model still works, slower
        path, how = None, f"the wheel's MiniLM (the CPU model could not be built: {exc})"
        log.warning("semantic matching: %s", how)
    guard = MeaningGuard(Embedder(path), load_bank())
    guard.vector("check that the model answers")
    return guard, how
