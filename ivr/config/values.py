"""Reading a setting's value as its type: booleans, numbers and JSON from the
environment's text, and the words an error uses for each type."""

from __future__ import annotations

import json
from typing import Any

KINDS: dict[type, str] = {
    int: "a whole number", float: "a number", bool: "true or false", str: "text",
    dict: "a mapping (JSON in the environment)",
    list: "a list of whole seconds (JSON in the environment, e.g. [1, 5, 30])"}
"""What a setting of each type must be, in words for the error message."""


def convert(value: Any, kind: type) -> Any:
    """``value`` (YAML, or text from the environment) as a setting of type ``kind``.

    Raises:
        ValueError: It is not one.
    """
    if value is None:
        return kind()
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(value)
    if kind in (int, float) and isinstance(value, bool):
        raise ValueError(value)
    if kind is dict:  # from the environment: JSON text
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, dict):
            raise ValueError(value)
        return {str(k): str(v) for k, v in parsed.items()}
    if kind is list:  # seconds: from the environment, JSON text
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, list) or not parsed or not all(
                isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in parsed):
            raise ValueError(value)
        return list(parsed)
    return kind(value)


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    user = auth.split(":", 1)[0]
    return f"{head}://{user}:***@{host}" if ":" in auth else url
