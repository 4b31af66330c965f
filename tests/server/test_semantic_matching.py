"""``semantic_matching: true`` on live calls: signed webhooks through the real app, the real
model (ivr[semantic] is in the test extra), and a model that cannot load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask

from ivr.server import meaning
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis
TAXES = "how much do I owe in taxes"


def loaded(app: Flask) -> meaning.Loader:
    loader: meaning.Loader = app.extensions[meaning.KEY]
    assert loader.ready.wait(60), "the model did not load in 60 s"
    return loader


def caller_of(app: Flask) -> TwilioCaller:
    caller = TwilioCaller(flask_transport(app.test_client()))
    caller.dial()
    return caller


def test_off_by_default_the_words_alone_decide(redis_url: str) -> None:
    app = make_app(redis_url)
    assert meaning.KEY not in app.extensions
    caller = caller_of(app)
    caller.say(TAXES)
    assert "account pin" in caller.spoken.lower()  # routed to balance, unasked


def test_on_an_unrelated_question_is_asked_about_not_routed(
        redis_url: str, model_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.server.meaning"):
        app = make_app(redis_url, semantic_matching=True, model_cache_dir=str(model_cache))
        loader = loaded(app)
    assert loader.guard is not None and not loader.problem
    assert "semantic matching on" in caplog.text and "menus ready" in caplog.text
    caller = caller_of(app)
    caller.say(TAXES)
    assert "it sounds like you'd like your balance" in caller.spoken.lower()
    caller.say("no")
    caller.say("I lost my card")
    assert "last four digits" in caller.spoken.lower()  # plain requests still route
    caller.press("0")
    assert caller.dialled  # and 0 is a person, as everywhere


def test_found_card_and_strangers_requests_reach_a_person_through_other(
        redis_url: str, model_cache: Path) -> None:
    app = make_app(redis_url, semantic_matching=True, model_cache_dir=str(model_cache))
    loaded(app)
    for text in ("I found somebody's credit card on the sidewalk", "book me a flight to Paris"):
        caller = caller_of(app)
        caller.say(text)
        assert "tell me why you're calling" in caller.spoken.lower()  # "other": captured
        caller.say("it's not mine, I want to hand it in")
        assert caller.dialled  # then a person, who hears the story


def test_a_model_that_cannot_load_leaves_the_lexical_matcher_and_says_so(
        redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from ivr.semantic import fast

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"\x08\x07 this is not an ONNX model")
    monkeypatch.setattr(fast, "wheel_model", lambda: broken)
    with caplog.at_level(logging.WARNING):
        app = make_app(redis_url, semantic_matching=True,
                       model_cache_dir=str(tmp_path / "cache"))
        loader = loaded(app)
    assert loader.guard is None and loader.problem
    assert "the lexical matcher decides alone" in caplog.text
    caller = caller_of(app)
    caller.say(TAXES)
    assert caller.last is not None and caller.last.status == 200
    assert "account pin" in caller.spoken.lower()  # lexical, as with semantic matching off
    caller.press("0")
    assert caller.dialled


def test_calls_before_the_model_is_ready_are_decided_lexically(
        redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url)
    app.extensions[meaning.KEY] = meaning.Loader()  # loading, not ready
    caller = caller_of(app)
    caller.say(TAXES)
    assert caller.last is not None and caller.last.status == 200
    assert "account pin" in caller.spoken.lower()


def test_the_start_up_status_line_says_which_matcher_decides(
        redis_url: str, model_cache: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert meaning.status(make_app(redis_url)) == ""
    on = make_app(redis_url, semantic_matching=True, model_cache_dir=str(model_cache))
    line = meaning.status(on, wait=60)
    assert line.startswith("Semantic matching: on (MiniLM re-quantised") and "menus ready" in line
    from ivr.semantic import fast

    monkeypatch.setattr(fast, "wheel_model", lambda: tmp_path / "missing.onnx")
    off = make_app(redis_url, semantic_matching=True, model_cache_dir=str(tmp_path / "c"))
    assert meaning.status(off, wait=60).startswith("Semantic matching: OFF, the model cannot")
