"""The flow registry is bounded (an LRU of ``compiled_cache_size`` versions), and a version a
call in flight is pinned to keeps serving after eviction: it is compiled again from Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ivr.flowlang import machine
from ivr.server.context import FLOWS_KEY, settings_of
from ivr.server.registry import Flows, reload_flows
from ivr.store.calls import Store
from tests.conftest import ROOT
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn)


def test_an_evicted_pinned_version_is_rebuilt_from_redis(redis_url: str, tmp_path: Path,
                                                         store: Store) -> None:
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    for name in ("card-services.yaml", "clinic-appointments.yaml"):
        (flows_dir / name).write_text((ROOT / "flows" / name).read_text())
    app = make_app(redis_url, flows_dir=str(flows_dir), compiled_cache_size=1)
    flows: Flows = app.extensions[FLOWS_KEY]
    card = flows_dir / "card-services.yaml"
    card.write_text(card.read_text().replace("Please enter your 5 digit account PIN.",
                                             "PIN please, version two."))
    reload_flows(settings_of(app), store)  # version two: not a start-up version
    two = store.current("card-services")
    assert two is not None
    call = TwilioCaller(flask_transport(app.test_client()))
    call.dial()
    call.press("2")
    assert "version two" in call.spoken and ("card-services", two) in flows._by_version
    other = TwilioCaller(flask_transport(app.test_client()))
    other.dial("clinic-appointments")  # the one slot now holds a clinic version
    assert ("card-services", two) not in flows._by_version and len(flows) == 1
    assert len(machine._CACHE) == 1
    call.press("12345")  # the call stays on version two, compiled again from its text
    assert "statement balance" in call.spoken and ("card-services", two) in flows._by_version
    assert store.load(call.sid).version == two  # type: ignore[union-attr]
    assert flows.ids() == {"card-services", "clinic-appointments"}
