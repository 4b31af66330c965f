"""Load the meaning guard: the CPU model (built on first use), else the wheel's model."""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.semantic import Embedder
from ivr.semantic.fast import fast_model
from ivr.semantic.guard import MeaningGuard, load_bank

log = logging.getLogger(__name__)


def load_guard(cache_dir: Path) -> tuple[MeaningGuard, str]:
    """The guard and which model it runs. Raises ``ModelUnavailable`` (or any error of a
    broken install) when no model can be loaded."""
    try:
        path: Path | None = fast_model(cache_dir)
        how = f"MiniLM re-quantised for this CPU ({path})"
    except Exception as exc:  # noqa: BLE001 - the wheel's model still works, slower
        path, how = None, f"the wheel's MiniLM (the CPU model could not be built: {exc})"
        log.warning("semantic matching: %s", how)
    guard = MeaningGuard(Embedder(path), load_bank())
    guard.vector("check that the model answers")
    return guard, how
