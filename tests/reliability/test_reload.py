"""A broken flow pushed with ``ivr reload`` while calls are in flight, then a good one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ivr.config import load_settings
from ivr.server.registry import reload_flows
from ivr.store.calls import Store
from tests.reliability.harness import HUMAN, STATS, Stack, check_twiml, dialled
from tests.twilio_caller import TwilioCaller, http_transport

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]
WELCOME = "Thanks for calling Acme card services."


def test_broken_flow_reload_keeps_serving_and_in_flight_calls_keep_their_version(
        stack: Stack) -> None:
    path = stack.flows / "card-services.yaml"
    original = path.read_text()
    conn = stack.conn()
    store = Store(conn)
    settings = load_settings(str(stack.config), {"redis_url": stack.redis_url})
    v1 = store.current("card-services")
    assert v1 and WELCOME in original
    calls = [TwilioCaller(http_transport(), base=stack.base) for _ in range(3)]
    STATS["calls"] += len(calls) + 2
    try:
        for c in calls:
            c.dial()
            c.press("2")                                      # balance: asks for the PIN
            assert "PIN" in c.spoken
        # 1. broken: a typo in a target; `ivr reload` refuses it (exit 1), v1 keeps serving
        path.write_text(original.replace("next: balance_result", "next: balance_reslt"))
        cli = subprocess.run(
            [sys.executable, "-c", "from ivr.cli import main; main()", "reload", "-c",
             str(stack.config), "--redis-url", stack.redis_url],
            capture_output=True, text=True, timeout=60, env=stack.env(), cwd=stack.tmp)
        STATS["attacks"] += 1
        assert cli.returncode == 1, cli.stdout + cli.stderr
        assert "balance_reslt" in cli.stdout + cli.stderr
        assert store.current("card-services") == v1
        fresh = TwilioCaller(http_transport(), base=stack.base)
        fresh.dial()
        assert WELCOME in fresh.spoken and store.load(fresh.sid).version == v1  # type: ignore
        calls[0].press("12345")
        assert "balance" in calls[0].spoken.lower()
        # 2. a good new version while calls 1-3 are still in flight
        path.write_text(original.replace(WELCOME, "Welcome to Acme card services, v2."))
        result = reload_flows(settings, store)
        assert not result.failed and [f for f, _ in result.published] == ["card-services"]
        v2 = store.current("card-services")
        assert v2 and v2 != v1
        for c in calls:
            if "PIN" in c.spoken:
                c.press("12345")
            c.press("0")
            assert c.last is not None and c.last.status == 200
            check_twiml(c.last.text)
            assert dialled(c.last.text) == HUMAN
            state = store.load(c.sid)
            assert state is not None and state.version == v1 and state.state == "human"
        STATS["reached_human"] += len(calls)
        newer = TwilioCaller(http_transport(), base=stack.base)
        newer.dial()
        assert "v2." in newer.spoken and store.load(newer.sid).version == v2  # type: ignore
        newer.press("0")
        assert dialled(newer.last.text) == HUMAN  # type: ignore[union-attr]
        fresh.press("0")
        assert dialled(fresh.last.text) == HUMAN  # type: ignore[union-attr]
        STATS["reached_human"] += 2
    finally:
        path.write_text(original)
        reload_flows(settings, store)
        conn.close()
    assert store.current("card-services") == v1
