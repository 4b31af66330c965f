"""Hypothesis against every webhook: whatever arrives, the answer is 200 TwiML that leaves
the caller a way to a person, or 403 for a request Twilio did not sign.

Bulk fuzzing goes through the Flask test client (same Redis as the stack); a smaller batch
goes over real HTTP to gunicorn. Examples are derandomized so CI runs are repeatable.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.app import create_app
from ivr.store.calls import Store
from tests.reliability.harness import CLOCK, EMERGENCY, STATS, TOKEN, Stack, check_twiml
from tests.twilio_caller import sign

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]

FLOWS = ("card-services", "clinic-appointments")
EVENTS = ("turn", "no_input", "dial", "recording")
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
HTTP_FUZZ = settings(FUZZ, max_examples=30)
Send = Callable[[str, str, bytes, dict[str, str]], tuple[int, str]]

# --- strategies ----------------------------------------------------------------------------

nasty = st.sampled_from([
    "", " ", "0", "#", "*", "00000", "4111111111111111", "4111 1111 1111 1111", "-1", "1e309",
    "NaN", "inf", "0x10", "\x00", "<Say>hi</Say>", "]]>", "&amp;", "' OR 1=1 --", "../..",
    "%00", "\u202e", "🙂" * 30, "completed", "busy", "no-answer", "failed", "canceled",
    "agent", "operator", "lost my card", "none of these", "CA" + "a" * 32, "CA" + "a" * 65,
    "https://api.twilio.com/rec/RE1", "javascript:alert(1)", "9" * 40])
value = st.one_of(nasty, st.text(max_size=60), st.text(min_size=500, max_size=3000),
                  st.from_regex(r"[0-9*#]{1,30}", fullmatch=True))
TWILIO_KEYS = ("CallSid", "From", "To", "Digits", "SpeechResult", "Confidence",
               "DialCallStatus", "QueueResult", "RecordingUrl", "RecordingDuration",
               "CallStatus", "ErrorCode", "FinishedOnKey", "AccountSid")
params_st = st.dictionaries(st.one_of(st.sampled_from(TWILIO_KEYS), st.text(max_size=20)),
                            value, max_size=8)
# (no "/" in a flow id: "/voice//x" is a 308 redirect, see test_double_slash_* below)
flow_st = st.one_of(st.sampled_from(FLOWS),
                    st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t))
q = urllib.parse.quote


@st.composite
def request_st(draw: st.DrawFn) -> tuple[str, str]:
    """(method, path with query) for any webhook, or something near one."""
    kind = draw(st.sampled_from(["start", "event", "status", "fallback", "whisper", "wait",
                                 "other"]))
    flow = q(draw(flow_st), safe="")
    if kind == "start":
        return "POST", f"/voice/{flow}"
    if kind == "event":
        e = draw(st.one_of(st.sampled_from(EVENTS), st.text(max_size=20)))
        turn = draw(st.one_of(st.sampled_from(["1", "2", "0", "-1", "", "x", "9" * 30]),
                              st.integers(0, 10**6).map(str)))
        return "POST", f"/voice/{flow}/event?e={q(e, safe='')}&turn={q(turn, safe='')}"
    if kind == "status":
        return "POST", "/voice/status"
    if kind == "fallback":
        return draw(st.sampled_from(["GET", "POST"])), "/voice/fallback"
    if kind == "whisper":
        sid = q(draw(st.one_of(st.text(max_size=80), st.just("CA" + "0" * 32))), safe="")
        return draw(st.sampled_from(["GET", "POST"])), f"/voice/{flow}/whisper?sid={sid}"
    if kind == "wait":
        sid = q(draw(st.one_of(st.text(max_size=40), st.just("CA" + "0" * 32))), safe="")
        extra = "&".join(f"{k}={q(draw(value)[:30], safe='')}" for k in
                         draw(st.lists(st.sampled_from(["t", "in", "step"]), max_size=3)))
        tail = draw(st.sampled_from(["wait", "wait/callback"]))
        return "POST", f"/voice/{flow}/{tail}?sid={sid}" + (f"&{extra}" if extra else "")
    tail = q(draw(st.text(max_size=40)).lstrip("/").replace("//", "/"), safe="/")
    return draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"])), f"/voice/{tail}"


@dataclass
class Attack:
    method: str
    path: str
    params: dict[str, str]
    mode: str            # form (signed) | unsigned | badsig | raw | huge
    raw: bytes = b""
    ctype: str = "application/x-www-form-urlencoded"
    extra: dict[str, str] = field(default_factory=dict)


@st.composite
def attack_st(draw: st.DrawFn) -> Attack:
    method, path = draw(request_st())
    params = draw(params_st)
    if draw(st.booleans()):
        params["CallSid"] = draw(st.one_of(st.just("CA" + uuid.uuid4().hex),
                                           st.from_regex(r"CA[a-f0-9]{32}", fullmatch=True)))
    mode = draw(st.sampled_from(["form", "form", "form", "unsigned", "badsig", "raw",
                                 "huge"]))
    a = Attack(method, path, params, mode)
    if mode == "raw":
        a.raw = draw(st.binary(max_size=2000))
        a.ctype = draw(st.sampled_from(["application/x-www-form-urlencoded",
                                        "application/json", "text/xml", "multipart/form-data",
                                        "multipart/form-data; boundary=x", ""]))
    if mode == "huge" and "/whisper" in path:   # see test_whisper_that_fails_* below
        a.mode = mode = "form"
    if mode == "huge":          # POST only: a 70 KB query line is gunicorn's 414, not ours
        a.method = "POST"
        a.params["SpeechResult"] = "word " * 14000          # ~70 KB, over max_body
    return a


# --- transports ----------------------------------------------------------------------------

def flask_send(app: Flask) -> Send:
    client = app.test_client()

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        r = client.open(path, method=method, data=body, headers=headers)
        return r.status_code, r.get_data(as_text=True)

    return send


def http_send(base: str) -> Send:
    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(base + path, body if method != "GET" else None, headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode()

    return send


def fire(send: Send, base: str, a: Attack, store: Store) -> None:
    """Send one attack; check the reply against the promise."""
    url = base + a.path
    params = a.params if a.method == "POST" else {}
    body = urllib.parse.urlencode(params).encode() if a.method == "POST" else b""
    headers = {"Content-Type": a.ctype}
    if a.mode in ("form", "huge"):
        headers["X-Twilio-Signature"] = sign(url, params)
    elif a.mode == "badsig":
        headers["X-Twilio-Signature"] = sign(url, params, "wrong-token")
    elif a.mode == "raw":
        body = a.raw
        headers["X-Twilio-Signature"] = sign(url, {})
    if a.method == "GET":
        query = urllib.parse.urlencode(a.params)
        # gunicorn refuses request lines over 4094 bytes (414) before the app sees them;
        # every URL we give Twilio is a POST, so long GETs are not ours to answer
        path = a.path + ("&" if "?" in a.path else "?") + (query if len(query) < 3000 else "")
        url = base + path
        headers.pop("X-Twilio-Signature", None)
        if a.mode != "unsigned":
            headers["X-Twilio-Signature"] = sign(url, {}) if a.mode != "badsig" else "x"
        status, text = send("GET", path, b"", headers)
    else:
        status, text = send(a.method, a.path, body, headers)
    STATS["attacks"] += 1
    assert status in (200, 403, 413), (status, a, text[:300])
    if a.mode == "huge" and a.method == "POST":
        assert status == 413, (a, text[:300])  # over max_body: refused whole
        return
    # Signed and well-formed: it reaches the logic. (A percent-encoded path is the
    # exception: werkzeug's request.url decodes some characters, so the signature Twilio
    # made over the encoded URL does not match and the answer is 403; flow ids are
    # URL-safe, so no URL we hand Twilio has them.)
    if a.mode == "form" and a.method == "POST" and "%" not in a.path:
        assert status == 200, (a, text[:300])
    if a.mode in ("unsigned", "badsig"):
        assert status == 403, (a, text[:300])   # any path, any method: signed or nothing
    if status == 403:
        return
    route = a.path.split("?")[0]
    kind = "status" if route == "/voice/status" else \
        "whisper" if route.endswith("/whisper") and route.count("/") == 3 else \
        "wait" if route.endswith(("/wait", "/wait/callback")) else "call"
    call = store.load(a.params["CallSid"]) if _sid_ok(a.params.get("CallSid", "")) else None
    try:
        check_twiml(text, kind, ended=bool(call and call.ended))
    except AssertionError:
        STATS["no_human"] += 1
        raise


def _sid_ok(sid: str) -> bool:
    return bool(sid) and len(sid) <= 64 and sid.replace("_", "").replace("-", "").isalnum() \
        and sid.isascii()


@pytest.fixture(scope="module")
def app(stack: Stack) -> Flask:
    return create_app({"redis_url": stack.redis_url, "emergency_number": EMERGENCY,
                       "flows_dir": str(stack.flows), "clock": CLOCK,
                       "spool_dir": str(stack.spool), "twilio": {"auth_token": TOKEN},
                       "TESTING": True})


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[Store]:
    conn = redis.Redis.from_url(stack.redis_url)
    yield Store(conn)
    conn.close()


def test_fuzz_every_webhook_in_process(app: Flask, store: Store) -> None:
    send = flask_send(app)

    @FUZZ
    @given(attack_st())
    def run(a: Attack) -> None:
        fire(send, "http://localhost", a, store)

    run()


def test_fuzz_every_webhook_over_http(stack: Stack, store: Store) -> None:
    send = http_send(stack.base)

    @HTTP_FUZZ
    @given(attack_st())
    def run(a: Attack) -> None:
        fire(send, stack.base, a, store)

    run()


# --- random walks: real calls fed random input, turn by turn -----------------------------

step_st = st.one_of(
    st.tuples(st.just("digits"), st.one_of(st.from_regex(r"[0-9*#]{1,20}", fullmatch=True),
                                           value)),
    st.tuples(st.just("speech"), value),
    st.tuples(st.just("silence"), st.just("")),
    st.tuples(st.just("dial"), value),
    st.tuples(st.just("recording"), value),
    st.tuples(st.just("stale"), st.just("")),
    st.tuples(st.just("status"), value))


def walk(send: Send, base: str, store: Store, flow: str, steps: list[tuple[str, str]]) -> None:
    sid = "CA" + uuid.uuid4().hex
    common = {"CallSid": sid, "From": "+12125551234", "To": "+18005550100"}

    def post(path: str, extra: dict[str, str]) -> str:
        params = {**common, **extra}
        url = base + path
        status, text = send("POST", path, urllib.parse.urlencode(params).encode(),
                            {"X-Twilio-Signature": sign(url, params),
                             "Content-Type": "application/x-www-form-urlencoded"})
        STATS["attacks"] += 1
        assert status == 200, (path, extra, text[:300])
        return text

    text = post(f"/voice/{flow}", {"CallStatus": "ringing"})
    check_twiml(text)
    for kind, raw in steps:
        call = store.load(sid)
        assert call is not None
        turn = call.turn
        if kind == "status":
            status_text = post("/voice/status", {"CallStatus": raw, "CallDuration": "3"})
            check_twiml(status_text, "status")
            continue
        e, extra = {"digits": ("turn", {"Digits": raw}), "speech": ("turn", {
            "SpeechResult": raw, "Confidence": "0.8"}), "silence": ("no_input", {}),
            "dial": ("dial", {"DialCallStatus": raw}), "recording": ("recording", {
                "RecordingUrl": raw, "RecordingDuration": raw[:5]}),
            "stale": ("turn", {"Digits": "1"})}[kind]
        if kind == "stale":
            turn = max(1, turn - 1)
        text = post(f"/voice/{flow}/event?e={e}&turn={turn}", extra)
        after = store.load(sid)
        try:
            check_twiml(text, ended=bool(after and after.ended))
            # a well-formed, signed call never needs the emergency path
            assert EMERGENCY not in text, (kind, raw[:80], text[:400])
        except AssertionError:
            STATS["no_human"] += 1
            raise


def test_random_walks_through_real_calls(app: Flask, store: Store) -> None:
    send = flask_send(app)

    @FUZZ
    @given(st.sampled_from(FLOWS), st.lists(step_st, min_size=1, max_size=8))
    def run(flow: str, steps: list[tuple[str, str]]) -> None:
        walk(send, "http://localhost", store, flow, steps)

    run()


def test_random_walks_over_http(stack: Stack, store: Store) -> None:
    send = http_send(stack.base)

    @HTTP_FUZZ
    @given(st.sampled_from(FLOWS), st.lists(step_st, min_size=1, max_size=6))
    def run(flow: str, steps: list[tuple[str, str]]) -> None:
        walk(send, stack.base, store, flow, steps)

    run()


def test_double_slash_under_voice_still_gets_twiml(app: Flask) -> None:
    url = "http://localhost/voice//card-services"
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+12125551234"}
    r = app.test_client().post(url, data=params,
                               headers={"X-Twilio-Signature": sign(url, params)})
    STATS["attacks"] += 1
    assert r.status_code in (200, 403), r.status_code
    if r.status_code == 200:
        check_twiml(r.get_data(as_text=True))


@pytest.mark.parametrize("failure", ["redis down", "body too large"])
def test_whisper_that_fails_still_whispers(stack: Stack, failure: str) -> None:
    from tests.server.test_e2e import free_port

    url = stack.redis_url if failure != "redis down" else \
        f"redis://127.0.0.1:{free_port()}/0"               # nothing listens there
    app = create_app({"redis_url": url, "emergency_number": EMERGENCY, "clock": CLOCK,
                      "flows_dir": str(stack.flows), "spool_dir": str(stack.spool),
                      "twilio": {"auth_token": TOKEN}, "TESTING": True})
    target = "http://localhost/voice/card-services/whisper?sid=CA" + "0" * 32
    params = {"CallSid": "CA" + "1" * 32}
    if failure == "body too large":
        params["Extra"] = "x" * 70_000
    r = app.test_client().post(target, data=params,
                               headers={"X-Twilio-Signature": sign(target, params)})
    STATS["attacks"] += 1
    assert r.status_code == 200
    check_twiml(r.get_data(as_text=True), "whisper")
