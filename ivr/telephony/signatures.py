"""Twilio request signatures, checked by the SDK's ``RequestValidator.validate``.

The server decides which URLs Twilio may have signed (the public base URL, the URL as
requested); this module asks the SDK whether any of them carries the signature, with:

- **every** form value, repeated keys included: the request's ``MultiDict`` is handed to
  the SDK as a dict of name -> every value with ``getall``, the first of the three ways
  its ``get_values`` tries (``getall``, ``getlist``, ``[params[name]]``), so the same values
  are signed without an ``AttributeError`` raised and caught per name and per port
  variant (a ``MultiDict`` has no ``getall``: 12 for a 6-value form, ~56 for the ~28 values
  of a real Twilio webhook, ~1 µs each). ``to_dict()`` would keep only the
  first value of a repeated key and reject, or worse accept, the wrong thing;
- both port variants of each URL (the SDK's own ``validate`` tries with and without);
- the scheme the request names: without ``X-Twilio-Webhooks-Signature-Settings``, the
  account auth token with HMAC-SHA1; with ``key=<id>,algorithm=HMAC_SHA256``, the secret of
  that shared key (``twilio.signing_keys``: several may be active at once, for rotation)
  and that algorithm (the SDK's ``get_signature_algorithm``). A key id we do not hold, or
  an algorithm the SDK does not know, is a rejection;
- for a JSON body, the raw body text: the signed URL must carry ``bodySHA256`` and the
  SDK checks the body's SHA-256 against it (a JSON body without it is rejected).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import HMAC_SHA1, RequestValidator, get_signature_algorithm

SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
Params = Mapping[str, Any] | str


@functools.lru_cache(maxsize=16)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


class AllValues(dict[str, list[str]]):
    """A form as name -> every value, read by the SDK's ``get_values`` through ``getall``."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def all_values(params: Mapping[str, Any]) -> AllValues:
    """``params`` (a ``MultiDict`` or a plain mapping) with every value of each name, as
    the SDK would read them from it (``getlist``, else the one value)."""
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return AllValues((name, getlist(name)) for name in params)
    return AllValues((name, [value]) for name, value in params.items())


@dataclass(frozen=True)
class Scheme:
    """Which secret and algorithm a request says it was signed with ('' secret: none)."""

    secret: str
    algorithm: str
    key_id: str = ""


def key_id(settings_header: str) -> str:
    """The ``key=`` of an ``X-Twilio-Webhooks-Signature-Settings`` value ('' when none)."""
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "key":
            return value.strip()
    return ""


def scheme(settings_header: str, auth_token: str, shared: Mapping[str, str]) -> Scheme:
    """The secret and algorithm for a request's signature-settings header.

    No header: the auth token, HMAC-SHA1. A header naming a key: that key's secret (''
    when it is not one of ``shared``, which fails every check).
    """
    algorithm = get_signature_algorithm(settings_header)
    kid = key_id(settings_header)
    if not kid:
        return Scheme(auth_token, algorithm)
    return Scheme(shared.get(kid, ""), algorithm, kid)


def valid_signature(token: str, url: str, params: Params, signature: str,
                    algorithm: str = HMAC_SHA1) -> bool:
    """``RequestValidator(token).validate(url, params, signature, algorithm)``.

    ``params`` is the form (a ``MultiDict`` keeps repeated keys) or, for a JSON body, its
    text; then ``url`` must carry ``bodySHA256``.
    """
    if not (token and signature):
        return False
    if isinstance(params, str):
        if "bodySHA256" not in parse_qs(urlsplit(url).query):
            return False
    elif not isinstance(params, AllValues):
        params = all_values(params)
    return bool(_validator(token).validate(url, params, signature, algorithm=algorithm))


def signed_by_twilio(token: str, urls: Iterable[str], params: Params, signature: str,
                     algorithm: str = HMAC_SHA1) -> bool:
    """True when ``signature`` is Twilio's for one of ``urls`` (tried in order)."""
    if not signature:
        return False
    values = params if isinstance(params, str) else all_values(params)
    return any(valid_signature(token, u, values, signature, algorithm) for u in urls)
