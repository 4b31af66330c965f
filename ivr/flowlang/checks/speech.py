"""Speech checks: the ``speech:`` settings (flow-wide and per prompt) are ones Twilio
accepts. Run with the telephony phase of :mod:`ivr.flowlang.checks.rules`.

Twilio refuses ``speechTimeout="auto"`` once a ``speechModel`` is set (warning 13335, the
caller's words then end at Twilio's discretion), and wants whole seconds otherwise.
"""

from __future__ import annotations

from typing import Any

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.model import Flow
from ivr.flowlang.positions import Path, Source

MAX_TIMEOUT = 60


def check_speech(flow: Flow, src: Source) -> list[Problem]:
    """IVR406 an unreadable ``speech.timeout``; IVR407 a speech model with ``auto`` (or no)
    timeout, at the block that sets it.

    PASS: ``speech: {model: phone_call, timeout: 2}``.
    FAIL: ``speech: {model: phone_call}`` or ``timeout: auto`` beside a model; ``timeout: 2.5``.
    """
    data: dict[str, Any] = src.data if isinstance(src.data, dict) else {}
    blocks: list[tuple[Path, dict[str, Any]]] = [(("speech",), data.get("speech") or {})]
    for name, state in (data.get("states") or {}).items():
        if isinstance(state, dict) and state.get("speech"):
            blocks.append((("states", name, "speech"), state["speech"]))
    out = [p for path, block in blocks if (p := _timeout(block, path, src))]
    if out:
        return out
    base = flow.speech
    if base.model and base.auto:
        out.append(_auto_with_model(src, ("speech",), base.model, data["speech"]))
    for path, block in blocks[1:]:
        own = flow.speech_at(flow.states[str(path[1])])
        sets = "model" in block or str(block.get("timeout", "")) == "auto"
        if own.model and own.auto and sets:
            out.append(_auto_with_model(src, path, own.model, block))
    return out


def _timeout(block: dict[str, Any], path: Path, src: Source) -> Problem | None:
    value = block.get("timeout", "auto")
    whole = isinstance(value, int) and not isinstance(value, bool)
    if value == "auto" or (whole and 1 <= value <= MAX_TIMEOUT):
        return None
    return src.problem("IVR406", f"speech timeout {value!r} is not 'auto' or whole seconds "
                       f"from 1 to {MAX_TIMEOUT}", (*path, "timeout"),
                       "the seconds of silence that end the caller's words, e.g. timeout: 2")


def _auto_with_model(src: Source, path: Path, model: str, block: dict[str, Any]) -> Problem:
    where = (*path, "timeout") if "timeout" in block else (*path, "model")
    return src.problem("IVR407", f"speech model '{model}' needs a timeout in whole seconds: "
                       "Twilio refuses speechTimeout 'auto' with a model (warning 13335)",
                       where, ("write whole seconds instead of auto, e.g. timeout: 2"
                               if "timeout" in block else "add timeout: 2 (seconds of silence "
                               "that end the caller's words) to this speech block"),
                       key="timeout" not in block)
