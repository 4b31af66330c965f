"""Mask card numbers and other secrets before anything is stored, logged or enqueued.

A card number is 13-19 digits (spaces or dashes between groups allowed, or spoken as
words: "four one one one ...") that passes the Luhn check. Redaction is pure and runs on
every utterance and every key sequence before it leaves the engine.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ivr.flowlang import phone

_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
          "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_DIGIT_RUN = re.compile(r"(?<![\d])(?:\d[ \-.]?){12,18}\d(?![\d])")
_WORD_TOKEN = re.compile(r"\b(?:" + "|".join(_WORDS) + r"|[0-9]+)\b", re.IGNORECASE)
MASK = "[card number]"


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """True when ``text`` (digits with optional separators) is a plausible card number."""
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def words_to_digits(text: str) -> str:
    """'four one one one' → '4111', '54321' → '54321'; other words are dropped."""
    return "".join(_WORDS.get(t.lower(), t) for t in _WORD_TOKEN.findall(text))


def redact_text(text: str) -> str:
    """``text`` with card numbers (written as digits or spoken as words) masked."""
    text = _DIGIT_RUN.sub(lambda m: MASK if is_card_number(m.group()) else m.group(), text)
    return _mask_spoken(text)


def _mask_spoken(text: str) -> str:
    tokens = list(re.finditer(r"\S+", text))
    run: list[re.Match[str]] = []
    spans: list[tuple[int, int]] = []
    for tok in [*tokens, None]:
        word = tok.group().strip(",.;").lower() if tok else ""
        if tok and (word in _WORDS or word.isdigit() and len(word) <= 4):
            run.append(tok)
            continue
        digits = "".join(_WORDS.get(t.group().strip(",.;").lower(), t.group().strip(",.;"))
                         for t in run)
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            spans.append((run[0].start(), run[-1].end()))
        run = []
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


def redact_digits(digits: str, sensitive: bool = False) -> str:
    """Key presses as they may be stored: masked when sensitive or a card number."""
    if sensitive:
        return "*" * len(digits)
    return MASK if is_card_number(digits) else digits


def mask_number(number: str) -> str:
    """A phone number as it may be stored (see :func:`ivr.flowlang.phone.masked`)."""
    return phone.masked(number)


def number_key(number: str, secret: str = "") -> str:
    """A stable, non-reversible key for a caller's number (to count their calls).

    Only the digits count, so '+1 (555) 123-0000' and '+15551230000' share a key.
    ``secret`` is required (``caller_key_secret``, or the generated one of
    :mod:`ivr.store.secrets`): unkeyed, a phone number's small space is brute-forced back.

    Raises:
        ValueError: ``secret`` is empty.
    """
    if not secret:
        raise ValueError("number_key needs a secret (caller_key_secret)")
    digits = re.sub(r"\D", "", number)
    return hmac.new(secret.encode(), digits.encode(), hashlib.sha256).hexdigest()[:32]
