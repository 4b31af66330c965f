"""Signatures: every /voice rule x method, forged or unsigned, is refused (403); signed
requests pass with repeated keys, both port variants, shared HMAC-SHA256 keys (several
at once, for rotation) and JSON bodies with bodySHA256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.telephony.signatures import AllValues, all_values, key_id, scheme, valid_signature
from tests.server.test_web import EMERGENCY, make_app
from tests.twilio_caller import TOKEN, sign

pytestmark = pytest.mark.redis
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
KEYS = {"webhooks_sharedkey_old": "old-secret-0123456789", "webhooks_sharedkey_new":
        "new-secret-9876543210"}
SID = "CA" + "a" * 32


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url, twilio={"auth_token": TOKEN, "signing_keys": KEYS})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def concrete(rule: str) -> str:
    return rule.replace("<flow_id>", "card-services")


def voice_paths(app: Flask) -> list[str]:
    """Every /voice rule of the url_map, its trailing-slash twin, and unknown paths."""
    rules = sorted({concrete(r.rule) for r in app.url_map.iter_rules()
                    if r.rule.startswith("/voice")})
    assert len(rules) >= 7, rules
    extra = [r + "/" for r in rules] + ["/voice", "/voice/", "/voice/nope/nope/nope",
                                        "/voice/card-services/event/x"]
    return rules + extra


def forged_headers(url: str, params: dict[str, str]) -> list[dict[str, str]]:
    """No signature, garbage, the wrong token, a signature of other params, a shared key
    nobody holds, the right token with a made-up algorithm."""
    return [
        {},
        {"X-Twilio-Signature": "x"},
        {"X-Twilio-Signature": sign(url, params, "wrong-token")},
        {"X-Twilio-Signature": sign(url, {**params, "Digits": "9"})},
        {"X-Twilio-Signature": sign(url, params, "guess"),
         "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_x,algorithm=HMAC_SHA256"},
        {"X-Twilio-Signature": sign(url, params),
         "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"},
    ]


def test_forged_and_unsigned_requests_to_every_voice_rule_and_method_are_refused(
        app: Flask, client: FlaskClient) -> None:
    params = {"CallSid": SID, "From": "+12125551234", "Digits": "0", "CallStatus": "completed"}
    sent = accepted = 0
    for path in voice_paths(app):
        for query in ("", "?e=turn&turn=1&sid=" + SID):
            url = "http://localhost" + path + query
            for method in METHODS:
                for headers in forged_headers(url, params):
                    r = client.open(url, method=method, headers=headers,
                                    data=params if method not in ("GET", "HEAD") else None)
                    sent += 1
                    accepted += r.status_code != 403
    print(f"\nforged/unsigned requests to /voice: {sent} sent, {accepted} accepted")
    assert accepted == 0


def test_signed_unknown_path_and_method_still_reach_a_person(client: FlaskClient) -> None:
    for url, method in [("http://localhost/voice/card-services/", "POST"),
                        ("http://localhost/voice/status", "PUT"),
                        ("http://localhost/voice/card-services/event", "GET")]:
        r = client.open(url, method=method, headers={"X-Twilio-Signature": sign(url, {})})
        assert r.status_code == 200 and EMERGENCY in r.get_data(as_text=True), (url, method)


def test_repeated_keys_are_all_signed() -> None:
    """The SDK's signature covers every value of a repeated key; to_dict() would drop one."""
    url = "https://example.com/voice/card-services/event?e=turn&turn=1"
    form = MultiDict([("CallSid", SID), ("Digits", "1"), ("Digits", "2")])
    good = RequestValidator(TOKEN).compute_signature(url, form)
    assert valid_signature(TOKEN, url, form, good)
    only_first = MultiDict([("CallSid", SID), ("Digits", "1")])
    assert not valid_signature(TOKEN, url, only_first, good)
    assert not valid_signature(TOKEN, url, form, sign(url, only_first.to_dict()))


@pytest.mark.parametrize("form", [
    MultiDict([("CallSid", SID), ("Digits", "1"), ("Digits", "2"), ("Digits", "1")]),
    MultiDict([("b", "2"), ("a", ""), ("a", "é"), ("c", "x y")]),
    MultiDict(), {"CallSid": SID, "Digits": "9"}, {}])
def test_all_values_sign_what_the_sdk_signs_from_the_form(form: Any) -> None:
    """The SDK's own reading of the form (MultiDict: getlist; dict: one value) and ours
    (getall on every value) give the same signature, and validate alike."""
    url = "https://example.com/voice/card-services/event?e=turn&turn=1"
    sdk = RequestValidator(TOKEN)
    values = all_values(form)
    assert isinstance(values, AllValues) and sorted(values) == sorted(form)
    assert sdk.compute_signature(url, values) == sdk.compute_signature(url, form)
    good = sdk.compute_signature(url, form)
    assert valid_signature(TOKEN, url, form, good) and valid_signature(TOKEN, url, values, good)
    assert not valid_signature(TOKEN, url, values, sdk.compute_signature(url + "2", form))


def test_repeated_keys_over_http(client: FlaskClient) -> None:
    url = "http://localhost/voice/status"
    form = MultiDict([("CallSid", SID), ("CallStatus", "ringing"), ("CallStatus", "x")])
    sig = RequestValidator(TOKEN).compute_signature(url, form)
    assert client.post(url, data=form, headers={"X-Twilio-Signature": sig}).status_code == 200
    forged = MultiDict([("CallSid", SID), ("CallStatus", "ringing"), ("CallStatus", "y")])
    assert client.post(url, data=forged, headers={"X-Twilio-Signature": sig}).status_code == 403


def test_both_port_variants() -> None:
    params = {"CallSid": SID}
    for signed, asked in [("https://x.example/voice/status", "https://x.example:443/voice/status"),
                          ("https://x.example:443/voice/status", "https://x.example/voice/status")]:
        assert valid_signature(TOKEN, asked, params, sign(signed, params))


def sha256_signature(secret: str, url: str, params: dict[str, str]) -> str:
    s = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(secret.encode(), s.encode(), hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("kid", sorted(KEYS))
def test_shared_keys_with_hmac_sha256_during_a_rotation(client: FlaskClient, kid: str) -> None:
    url = "http://localhost/voice/status"
    params = {"CallSid": SID, "CallStatus": "ringing"}
    sig = sha256_signature(KEYS[kid], url, params)
    header = {"X-Twilio-Signature": sig,
              "X-Twilio-Webhooks-Signature-Settings": f"key={kid},algorithm=HMAC_SHA256"}
    assert client.post(url, data=params, headers=header).status_code == 200
    other = "webhooks_sharedkey_new" if kid.endswith("old") else "webhooks_sharedkey_old"
    header["X-Twilio-Webhooks-Signature-Settings"] = f"key={other},algorithm=HMAC_SHA256"
    assert client.post(url, data=params, headers=header).status_code == 403
    # the auth token is not a shared key's secret
    header = {"X-Twilio-Signature": sha256_signature(TOKEN, url, params),
              "X-Twilio-Webhooks-Signature-Settings": f"key={kid},algorithm=HMAC_SHA256"}
    assert client.post(url, data=params, headers=header).status_code == 403


def test_scheme_parsing() -> None:
    assert key_id("key=abc,algorithm=HMAC_SHA256") == "abc"
    assert key_id("") == "" and key_id("algorithm=HMAC_SHA256") == ""
    got = scheme("key=webhooks_sharedkey_new, algorithm=HMAC_SHA256", TOKEN, KEYS)
    assert (got.secret, got.algorithm) == (KEYS["webhooks_sharedkey_new"], "HMAC_SHA256")
    assert scheme("", TOKEN, KEYS).secret == TOKEN
    assert scheme("key=unknown,algorithm=HMAC_SHA256", TOKEN, KEYS).secret == ""


def json_request(client: FlaskClient, body: dict[str, Any], with_hash: bool = True,
                 tamper: bool = False) -> int:
    text = json.dumps(body)
    digest = hashlib.sha256(text.encode()).hexdigest()
    url = "http://localhost/voice/status" + (f"?bodySHA256={digest}" if with_hash else "")
    sig = RequestValidator(TOKEN).compute_signature(url, {})
    sent = text.replace("ringing", "completed") if tamper else text
    return client.post(url, data=sent, content_type="application/json",
                       headers={"X-Twilio-Signature": sig}).status_code


def test_json_bodies_need_their_body_sha256(client: FlaskClient) -> None:
    body = {"CallSid": SID, "CallStatus": "ringing"}
    assert json_request(client, body) == 200
    assert json_request(client, body, tamper=True) == 403
    assert json_request(client, body, with_hash=False) == 403
