"""Callback policy over signed webhooks: allowed countries, plain lines only, at most N
callbacks per caller and per number per day (counted in Redis, no number at rest); a
refused number is never a dead end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from ivr.flowlang import phone
from ivr.server.context import store_of
from ivr.store.keys import CALLBACKS_BY_CALLER, CALLBACKS_BY_NUMBER
from tests.runtime.test_queue import queued
from tests.server.test_web import make_app
from tests.twilio_caller import CALLER, TwilioCaller, flask_transport

pytestmark = pytest.mark.redis
OPEN = datetime(2026, 11, 24, 19, 5, tzinfo=UTC)  # a Tuesday, 14:05 in New York
PREMIUM = "+19005551234"


def busy(app: Flask, caller: str = CALLER) -> TwilioCaller:
    c = TwilioCaller(flask_transport(app.test_client()), caller=caller)
    c.dial()
    c.press("0")
    c.answered("busy")
    return c


def test_line_types_and_countries() -> None:
    assert phone.line_type("+12125551234") == "fixed_line_or_mobile"
    assert phone.line_type(PREMIUM) == "premium_rate"
    assert phone.line_type("+18005550100") == "toll_free"
    assert phone.region_code("+442071838750") == "GB"


@pytest.mark.parametrize("caller, extra", [
    (PREMIUM, {}), ("+18005550100", {}), ("+442071838750", {}),
    (CALLER, {"callback_countries": "CA"})])
def test_a_number_we_may_not_ring_gets_voicemail_not_the_offer(
        redis_url: str, caller: str, extra: dict[str, str]) -> None:
    app = make_app(redis_url, clock=OPEN.isoformat(), **extra)
    c = busy(app, caller)
    assert "press 1" not in c.spoken and "Record" in c.verbs  # voicemail, at once
    c.record(duration=5)
    assert "message is saved" in c.spoken


def test_at_most_n_callbacks_per_caller_per_day(redis_url: str,
                                                redis_conn: redis.Redis) -> None:
    app = make_app(redis_url, clock=OPEN.isoformat(), callback_max_per_day=2)
    for _ in range(2):
        c = busy(app)
        assert "press 1" in c.spoken
        url = c.gather_action()
        c.press("1")
        c.post(url, c.params(Digits="1", FinishedOnKey=""))  # a duplicate: not counted again
        assert "call you back at this number" in c.spoken
    third = busy(app)
    assert "press 1" not in third.spoken and "Record" in third.verbs
    keys = list(redis_conn.scan_iter("ivr:callbacks:*"))
    assert len(keys) == 2 and all(redis_conn.scard(k) == 2 for k in keys)
    digits = CALLER.lstrip("+")
    assert not any(digits[-7:] in k.decode() for k in keys)  # hashed, never the number
    day = OPEN.date().isoformat()
    assert all(k.decode().startswith((CALLBACKS_BY_CALLER.format(day, ""),
                                      CALLBACKS_BY_NUMBER.format(day, ""))) for k in keys)


def test_a_typed_number_over_its_limit_keeps_the_caller_in_line(
        redis_url: str, redis_conn: redis.Redis) -> None:
    app = make_app(redis_url, callback_dry_run=True, callback_max_per_day=1)
    first, _ = queued(app, "+12125550111")
    first.press("1")
    first.press("2")
    first.press("4155552671")
    assert first.verbs == ["Say", "Leave"]
    second, _ = queued(app, "+12125550122")
    second.press("1")
    second.press("2")
    second.press("4155552671")  # the same number, its one callback today is taken
    assert "can't call that number back today" in second.spoken
    assert "keep your place" in second.spoken and "Leave" not in second.verbs
    assert "/wait?e=wait" in second.redirect_url()
    call = store_of(app).load(second.sid)
    assert call is not None and call.state == "__wait__" and not call.ended


def test_a_premium_typed_number_is_refused_and_the_caller_keeps_their_place(
        redis_url: str) -> None:
    app = make_app(redis_url, callback_dry_run=True)
    c, _ = queued(app, PREMIUM)
    c.press("1")
    assert "enter the phone number" in c.spoken  # their own number may not be rung
    c.press("9005550199")
    assert "can't call that number back" in c.spoken and "keep your place" in c.spoken
    c.post(c.redirect_url(), c.params(QueuePosition="39", QueueTime="60",
                                      AvgQueueTime="120", CurrentQueueSize="40"))
    assert "number 39 in line" in c.spoken


def test_bad_country_setting_is_a_config_error(redis_url: str) -> None:
    from ivr.config import ConfigError

    with pytest.raises(ConfigError, match="callback_countries"):
        make_app(redis_url, callback_countries="US,XX")
