"""A call's short code: four digits an agent can hear in the whisper and type in the console.

Derived from the CallSid alone (a keyed-free SHA-256, so every process computes the same
code with no shared counter and no I/O). Four digits collide: among 100 calls in progress
two share a code about 40% of the time, so the console resolves a code to every live call
that has it and lets the agent pick by flow and masked caller (``/ops/agent/call/<code>``).
"""

from __future__ import annotations

import hashlib
import re

DIGITS = 4
_CODE = re.compile(r"\d{" + str(DIGITS) + "}")


def short_code(sid: str) -> str:
    """The four-digit code of call ``sid`` ("0427"); the same in every process."""
    value = int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big")
    return f"{value % 10 ** DIGITS:0{DIGITS}d}"


def spoken(code: str) -> str:
    """A code as the whisper says it, digit by digit: "0 4 2 7"."""
    return " ".join(code)


def is_code(text: str) -> bool:
    """True for something shaped like a short code (four digits)."""
    return bool(_CODE.fullmatch(text))
