"""Twilio request signatures, checked by the SDK's ``RequestValidator.validate``.

The server decides which URLs Twilio may have signed (the public base URL, the URL as
requested); this module only asks the SDK whether any of them carries ``signature``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from twilio.request_validator import RequestValidator


@functools.lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def valid_signature(token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """``RequestValidator(token).validate(url, params, signature)`` (with and without the
    URL's port, as the SDK does)."""
    return bool(signature) and bool(_validator(token).validate(url, dict(params), signature))


def signed_by_twilio(token: str, urls: Iterable[str], params: Mapping[str, str],
                     signature: str) -> bool:
    """True when ``signature`` is Twilio's for one of ``urls`` (tried in order)."""
    return bool(signature) and any(valid_signature(token, u, params, signature) for u in urls)
