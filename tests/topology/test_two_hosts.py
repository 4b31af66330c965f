"""Two hosts with no shared disk: "host A" runs the web + console (gunicorn), "host B" an
``ivr worker``; each has its own working directory, its own config and its own copy of
``flows/`` and spool. They share only a redis-server and a PostgreSQL over TCP.

Calls placed on A (signed with the twilio SDK's RequestValidator, over real HTTP) are
archived by B into PostgreSQL; A's console shows them (/ops/inbox, /ops/metrics), and
``ivr export`` in a third directory that knows only the Redis and PostgreSQL addresses
writes their transcripts. No host writes an archive file.
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import yaml

from ivr.jobs.archive import Archive
from ivr.ops.auth import make_hash
from ivr.qa.transcript import parse_transcript
from tests.conftest import ROOT
from tests.pg import PgServer
from tests.reliability.harness import http_status, stop, wait_for
from tests.server.test_e2e import free_port, redis_server_binary, wait_until
from tests.twilio_caller import TOKEN, TwilioCaller, http_transport

pytestmark = [pytest.mark.slow, pytest.mark.redis]
EMERGENCY = "+14155550100"      # not a 555 placeholder: ivr doctor accepts it
CLOCK = "2026-11-20T14:05:00-05:00"      # a Friday afternoon: the lines are open
SHARED = {"caller_key_secret": "caller-key-of-every-host", "emergency_number": EMERGENCY,
          "clock": CLOCK}
BOOT = "from ivr.cli import main; main()"


@dataclass
class Hosts:
    """What the test talks to: A's base URL, the shared services, every directory."""

    base: str
    redis_url: str
    pg_url: str
    root: Path
    a: Path
    b: Path
    env_a: dict[str, str]


def host_dir(root: Path, name: str, config: dict[str, object]) -> Path:
    """A host's own working directory: its config.yaml and its copy of flows/."""
    cwd = root / name
    cwd.mkdir()
    shutil.copytree(ROOT / "flows", cwd / "flows")
    (cwd / "config.yaml").write_text(yaml.safe_dump(config))
    return cwd


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ivr/Redis/database setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))
           and k not in ("REDIS_URL", "DATABASE_URL")}
    return dict(env, PYTHONPATH=str(ROOT), **extra)


def run_ivr(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", BOOT, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"ivr {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def hosts(tmp_path: Path, pg_server: PgServer) -> Iterator[Hosts]:
    """redis-server and a new PostgreSQL database; gunicorn in A's directory, the worker
    in B's; every process stopped on every exit path."""
    pg_url = pg_server.create_database()
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    (tmp_path / "redis").mkdir()
    procs: list[tuple[subprocess.Popen[bytes], bool]] = []
    try:
        procs.append((subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path / "redis")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), False))
        wait_until(lambda: bool(redis.Redis.from_url(redis_url).ping()))
        a = host_dir(tmp_path, "host-a", {
            **SHARED, "flows_dir": "flows", "spool_dir": "spool", "secret_key": "console-key",
            "ops_users": {"olive": make_hash("olive-pw")}})
        # A takes Redis and the archive from the environment, as on Heroku (postgres://)
        env_a = clean_env(REDIS_URL=redis_url, TWILIO_AUTH_TOKEN=TOKEN,
                          DATABASE_URL=pg_url.replace("postgresql://", "postgres://"))
        run_ivr(a, env_a, "archive", "upgrade")      # the deploy steps, on A
        run_ivr(a, env_a, "reload")
        web_port = free_port()
        base = f"http://127.0.0.1:{web_port}"
        web_log = (tmp_path / "gunicorn.log").open("ab")
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{web_port}",
             "--timeout", "30", "--log-level", "warning", "ivr.app:create_app()"],
            cwd=a, env=env_a, stdout=web_log, stderr=web_log), False))
        # B has everything in its own config.yaml
        b = host_dir(tmp_path, "host-b", {**SHARED, "flows_dir": "flows", "spool_dir": "spool",
                                          "redis_url": redis_url, "archive_url": pg_url})
        worker_log = (tmp_path / "worker.log").open("ab")
        procs.append((subprocess.Popen(
            [sys.executable, "-c", BOOT, "worker", "--name", "host-b-1"], cwd=b,
            env=clean_env(), stdout=worker_log, stderr=worker_log,
            start_new_session=True), True))
        wait_until(lambda: http_status(base + "/healthz") == 200, timeout=30)
        yield Hosts(base, redis_url, pg_url, tmp_path, a, b, env_a)
    finally:
        for proc, group in reversed(procs):
            stop(proc, group=group)


def place_calls(base: str) -> tuple[TwilioCaller, TwilioCaller]:
    """An "other" capture, then a zero-out; both hang up through the status callback."""
    other = TwilioCaller(http_transport(), base=base)
    other.dial()
    other.press("9")
    other.say("I found somebody's card on the bus")
    assert other.dialled, other.last
    other.answered("completed")
    zero = TwilioCaller(http_transport(), base=base)
    zero.dial()
    zero.press("0")
    assert zero.dialled, zero.last
    zero.answered("completed")
    for c in (other, zero):
        assert c.hangup().status == 200
    return other, zero


class Browser:
    """An ops user's browser on A's console. With a secret key configured the session
    cookie is ``Secure`` (production: behind TLS), so it is kept and sent back by hand, as
    a browser on https would (urllib's cookie jar keeps Secure cookies off plain http)."""

    def __init__(self, base: str) -> None:
        self.host = urllib.parse.urlsplit(base).netloc
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None
             ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, timeout=10)
        headers: dict[str, str] = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urllib.parse.urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            for raw in resp.headers.get_all("Set-Cookie") or []:
                jar = http.cookies.SimpleCookie(raw)
                self.cookies.update({k: m.value for k, m in jar.items()})
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def login(self, name: str, password: str) -> None:
        status, page = self.send("GET", "/ops/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert status == 200 and found, page[:500]
        status, page = self.send("POST", "/ops/login", {
            "username": name, "password": password, "csrf_token": found.group(1)})
        assert status == 302, page[:500]

    def page(self, path: str) -> str:
        status, text = self.send("GET", path)
        assert status == 200, (path, status, text[:500])
        return text


def export_elsewhere(hosts: Hosts, other: TwilioCaller, zero: TwilioCaller) -> None:
    """``ivr export`` in a third directory that has only the Redis and PostgreSQL URLs."""
    third = hosts.root / "reporting"
    third.mkdir()
    out = run_ivr(third, clean_env(REDIS_URL=hosts.redis_url, DATABASE_URL=hosts.pg_url),
                  "export", other.sid, zero.sid, "--out", "transcripts")
    assert "wrote 2 transcript(s)" in out
    out_dir = third / "transcripts"
    for c in (other, zero):
        loaded = parse_transcript((out_dir / "card-services" / f"{c.sid}.yaml").read_text())
        assert not loaded.problems, loaded.problems
    assert "found somebody" in (out_dir / "card-services" / f"{other.sid}.yaml").read_text()
    pinned = list((out_dir / "flows").glob("card-services@*.yaml"))   # the source, from Redis
    assert len(pinned) == 1 and pinned[0].read_text() == (hosts.a / "flows" /
                                                          "card-services.yaml").read_text()


def test_web_on_one_host_worker_on_another_sharing_only_redis_and_postgres(
        hosts: Hosts) -> None:
    other, zero = place_calls(hosts.base)
    archive = Archive(hosts.pg_url)

    def archived() -> bool:
        calls = [archive.call(c.sid) for c in (other, zero)]
        return all(c and c.get("turns") for c in calls) and \
            any(i["sid"] == other.sid for i in archive.inbox())

    wait_for(archived, timeout=30, what="host B to archive both calls")

    ops = Browser(hosts.base)
    ops.login("olive", "olive-pw")
    inbox = ops.page("/ops/inbox?since=all")
    assert "I found somebody&#39;s card on the bus" in inbox and "1 open" in inbox
    metrics = ops.page("/ops/metrics?since=all")
    assert re.search(r"<th>main_menu</th>.*?<td class=\"num\">1</td>", metrics, re.S), \
        metrics

    # ivr doctor on A: sees B's worker (heartbeat in Redis) and the migrated PostgreSQL
    found = {f["check"]: f for f in json.loads(run_ivr(
        hosts.a, hosts.env_a, "doctor", "--quick", "--format", "json"))
        if f["level"] != "warning"}
    assert {k: f["level"] for k, f in found.items()} == dict.fromkeys(found, "ok"), found
    assert "postgresql" in found["archive"]["message"], found
    assert "1 worker(s) alive" in found["worker"]["message"], found

    export_elsewhere(hosts, other, zero)
    files = [p.relative_to(hosts.root) for p in hosts.root.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".db", ".sqlite", ".sqlite3")], files
    assert not (hosts.a / "var").exists() and not (hosts.b / "var").exists(), files
    assert not [p for p in files if "spool" in p.parts], files   # nothing was spooled
