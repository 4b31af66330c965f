"""Phone numbers, on ``phonenumbers``: the one place that parses, checks and formats them.

Flows name numbers in E.164 (``human.dial``), settings too (``emergency_number``), Twilio
sends the caller's in ``From``, callers type one for a callback, and stored records keep
them masked. Pure (no I/O): the flow checker, the config, the engine, the Twilio parameter
parser and the redaction all call these.
"""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "US"


def is_e164(number: str) -> bool:
    """True for a possible number written exactly in E.164 (``+15551230000``)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164 == number and phonenumbers.is_possible_number(parsed)


def cleaned(raw: str) -> str:
    """A number as Twilio gave it, reduced to ``+`` and digits ('' when under 4 digits).

    Kept whole (a callback needs it); what is stored elsewhere is :func:`masked`.
    """
    out = "".join(c for c in raw if c.isascii() and (c.isdigit() or c == "+"))[:20]
    return out if sum(c.isdigit() for c in out) >= 4 else ""


def region_of(number: str) -> str:
    """The region of an E.164 number ('US' when unknown)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) \
            or DEFAULT_REGION
    except phonenumbers.NumberParseException:
        return DEFAULT_REGION


def valid_number(digits: str, caller: str = "") -> str:
    """``digits`` as an E.164 number when phonenumbers finds it valid, else ''.

    National numbers are read in the region of the caller's own number (US by default).
    """
    try:
        parsed = phonenumbers.parse(digits, region_of(caller) if caller else DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalised(raw: str, region: str = DEFAULT_REGION) -> str:
    """A number typed in any format ("(212) 555-1234", "+1 212.555.1234", "0044 20...") as
    E.164 ('' when it is not a possible number): what Twilio sends in ``From``, so its
    keyed hash is the archive's ``caller_key`` of that caller."""
    text = raw.strip()[:40]
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def spoken(e164: str) -> str:
    """A number read digit by digit in its national groups: "2 1 2, 5 5 5, 1 2 3 4"."""
    try:
        text = phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        text = e164
    return ", ".join(" ".join(group) for group in re.findall(r"\d+", text))


def masked(number: str) -> str:
    """A phone number as it may be stored: '+15551230000' → '+1******0000'.

    The country code (when the number is E.164) and the last 4 digits stay; the rest
    become ``*``. Anything without digits, or already masked (has a ``*``), is returned
    unchanged; short numbers are masked whole except their last 2 digits.
    """
    digits = re.sub(r"\D", "", number)
    if not digits or "*" in number:
        return number  # nothing to mask, or masked already
    if len(digits) < 7:
        return "*" * max(len(digits) - 2, 0) + digits[-2:]
    keep = _country_code_length(digits) if number.strip().startswith("+") else 0
    head = ("+" if keep else "") + digits[:keep]
    return head + "*" * (len(digits) - keep - 4) + digits[-4:]


def _country_code_length(digits: str) -> int:
    try:
        return len(str(phonenumbers.parse("+" + digits, None).country_code))
    except phonenumbers.NumberParseException:
        return 1  # keep the first digit only


CALLABLE_TYPES = ("fixed_line", "mobile", "fixed_line_or_mobile")
"""Line types a callback may ring: not premium-rate, shared-cost, toll-free, VoIP,
personal, pager, UAN or voicemail-access numbers (``phonenumbers.number_type``)."""
_TYPE_NAMES = {getattr(phonenumbers.PhoneNumberType, n): n.lower() for n in (
    "FIXED_LINE", "MOBILE", "FIXED_LINE_OR_MOBILE", "TOLL_FREE", "PREMIUM_RATE",
    "SHARED_COST", "VOIP", "PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL", "UNKNOWN")}


def line_type(e164: str) -> str:
    """The kind of line of an E.164 number: 'mobile', 'premium_rate', ... ('unknown')."""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return "unknown"
    return _TYPE_NAMES.get(kind, "unknown")


def is_region(code: str) -> bool:
    """True for a country code phonenumbers knows ("US", "GB", ...)."""
    return code in phonenumbers.SUPPORTED_REGIONS


def region_code(e164: str) -> str:
    """The region (ISO country) of an E.164 number ('' when unknown)."""
    try:
        return str(phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "")
    except phonenumbers.NumberParseException:
        return ""
