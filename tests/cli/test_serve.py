"""``ivr serve`` as a newcomer runs it: a real process, the console, a signed call through a
tunnel, and no redis-server left behind on any exit (issue 17)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT
from tests.server.test_e2e import free_port, wait_until
from tests.twilio_caller import TOKEN, sign

pytestmark = pytest.mark.slow
TUNNEL = "https://abc.ngrok-free.app"
CALL = {"CallSid": "CA" + "7" * 32, "AccountSid": "AC" + "0" * 32, "From": "+12125551234",
        "To": "+18005550100", "CallStatus": "ringing"}


def _ivr(*args: str) -> list[str]:
    return [sys.executable, "-c", "from ivr.cli import main; main()", *args]


def redis_servers(under: Path) -> list[psutil.Process]:
    """redis-server processes whose files are under ``under`` (the embedded ones)."""
    found = []
    for p in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            text = " ".join(p.info["cmdline"] or []) + " " + (p.info["cwd"] or "")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "redis-server" in (p.info["name"] or "") and str(under) in text:
            found.append(p)
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


def serve(home: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_ivr("serve", "--port", str(port), *extra), cwd=home, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _status(base + "/healthz") == 200, timeout=30)
    return proc, base


def _status(url: str, data: bytes | None = None, headers: dict[str, str] | None = None
            ) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _post(url: str, signed_for: str, headers: dict[str, str]) -> tuple[int, str]:
    body = urllib.parse.urlencode(CALL).encode()
    req = urllib.request.Request(url, data=body, headers={
        "X-Twilio-Signature": sign(signed_for, CALL), **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


def stop(proc: subprocess.Popen[bytes], how: int = signal.SIGTERM) -> str:
    proc.send_signal(how)
    out, _ = proc.communicate(timeout=30)
    return out.decode()


@pytest.fixture
def running(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, base = serve(home, "--public-url", TUNNEL)
    yield proc, base
    if proc.poll() is None:
        stop(proc)


def test_serve_prints_the_tunnel_urls_and_has_the_console(
        running: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, base = running
    assert _status(base + "/ops/login") == 200
    out = stop(proc)
    assert f"A call comes in:       {TUNNEL}/voice/card-services" in out


def test_a_call_signed_for_the_tunnel_url_is_answered(
        running: tuple[subprocess.Popen[bytes], str]) -> None:
    _, base = running
    status, body = _post(base + "/voice/card-services", TUNNEL + "/voice/card-services",
                         {"Host": "abc.ngrok-free.app", "X-Forwarded-Proto": "https"})
    assert status == 200 and "<Gather" in body and "card services" in body
    status, _ = _post(base + "/voice/card-services", "https://evil.example/voice/x", {})
    assert status == 403


def test_forwarded_headers_verify_without_public_url(home: Path) -> None:
    proc, base = serve(home)
    try:
        status, body = _post(base + "/voice/card-services", TUNNEL + "/voice/card-services",
                             {"X-Forwarded-Host": "abc.ngrok-free.app",
                              "X-Forwarded-Proto": "https"})
        assert status == 200 and "<Gather" in body
    finally:
        out = stop(proc)
    assert "--public-url" in out  # the banner says how to give Twilio a public URL


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_no_redis_server_left_behind(home: Path, how: int) -> None:
    proc, _ = serve(home)
    assert redis_servers(home), "the embedded Redis runs while serving"
    stop(proc, how)
    deadline = time.monotonic() + 10
    while redis_servers(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert redis_servers(home) == []


def test_one_shot_commands_leave_no_redis_server(home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["jobs", "list"], ["worker", "--burst"]):
        done = subprocess.run(_ivr(*args), cwd=home, env=env, capture_output=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(0.5)
        assert redis_servers(home) == [], args
