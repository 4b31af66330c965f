"""Bodies over max_body are refused with 413, chunked or not, through a real gunicorn.

werkzeug 3 only limits a chunked stream (under gunicorn, ``wsgi.input_terminated``): the
form parser got the first max_body bytes and no error. These tests send chunked bodies
on a raw socket, the way a client that never says Content-Length does.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from tests.conftest import ROOT
from tests.server.test_e2e import free_port, stop, wait_until
from tests.server.test_e2e import redis_proc as redis_proc  # noqa: F401 - the fixture
from tests.twilio_caller import TOKEN, sign

pytestmark = [pytest.mark.slow, pytest.mark.redis]
MAX_BODY = 32768
FLOW = "card-services"
TEXT = (ROOT / "flows" / f"{FLOW}.yaml").read_text()


@pytest.fixture
def server(redis_proc: tuple[subprocess.Popen[bytes], str],
           tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """gunicorn serving the app (max_body 32 KiB); yields its port and a logged-in
    console session (cookie and CSRF token)."""
    _, url = redis_proc
    users = {"alice": generate_password_hash("a-long-enough-password")}
    env = dict(os.environ, IVR_REDIS_URL=url, TWILIO_AUTH_TOKEN=TOKEN,
               IVR_EMERGENCY_NUMBER="+15559990000", IVR_FLOWS_DIR=str(ROOT / "flows"),
               IVR_SPOOL_DIR=str(tmp_path / "spool"), IVR_MAX_BODY=str(MAX_BODY),
               IVR_OPS_USERS=json.dumps(users), IVR_SECRET_KEY="s" * 32,
               IVR_ARCHIVE_PATH=str(tmp_path / "archive.db"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "ivr.app:create_app()"], cwd=ROOT, env=env)
    try:
        wait_until(lambda: _status(port, "/healthz") == 200)
        yield port, _login(port)
    finally:
        stop(proc)


def _status(port: int, path: str) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    return c.getresponse().status


def _login(port: int) -> dict[str, str]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/ops/login")
    r = c.getresponse()
    cookie = r.getheader("Set-Cookie", "").split(";")[0]
    tok = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert tok
    body = urllib.parse.urlencode({"username": "alice", "password": "a-long-enough-password",
                                   "csrf_token": tok.group(1)})
    c.request("POST", "/ops/login", body, {"Cookie": cookie,
                                            "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    assert r.status == 302, r.status
    cookie = r.getheader("Set-Cookie", "").split(";")[0]
    c.request("GET", "/ops/flows", headers={"Cookie": cookie})
    page = c.getresponse().read().decode()
    tok = re.search(r'data-csrf="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert tok
    return {"Cookie": cookie, "X-CSRF-Token": tok.group(1)}


def raw(port: int, path: str, body: bytes, headers: dict[str, str], chunked: bool = True,
        chunk: int = 1000) -> tuple[int, str]:
    """One request on a raw socket; chunked: Transfer-Encoding chunked, no Content-Length."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode()
    if chunked:
        for i in range(0, len(body), chunk):
            part = body[i:i + chunk]
            out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        out += b"0\r\n\r\n"
    else:
        out += body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            got += data
    head, _, rest = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    text = rest.decode("utf-8", "replace")
    if b"chunked" in head.lower():  # de-chunk the reply
        text = "".join(re.split(r"\r\n[0-9a-f]+\r\n", "\r\n" + text)[1:])
    return status, text


def test_chunked_check_under_the_limit_is_read_whole(server: tuple[int, dict[str, str]]) -> None:
    port, session = server
    small = "flow: x\nstart: a\n"
    status, text = raw(port, f"/ops/flows/{FLOW}/check", small.encode(),
                       {**session, "Content-Type": "text/plain", "Accept": "application/json"})
    assert status == 200, text[:300]
    assert json.loads(text)["ok"] is False  # the whole (bad) text was checked, not b""


def test_chunked_check_over_the_limit_with_an_error_at_the_end_is_refused(
        server: tuple[int, dict[str, str]]) -> None:
    """The first max_body bytes are a good flow; the error is past them: 413, never ok."""
    port, session = server
    head = TEXT.encode()
    assert len(head) < MAX_BODY
    body = head + b"\n# " + b"x" * (MAX_BODY - len(head)) + b"\nstates: {broken\n"
    headers = {**session, "Content-Type": "text/plain", "Accept": "application/json"}
    status, text = raw(port, f"/ops/flows/{FLOW}/check", body, headers)
    assert status == 413, text[:300]
    assert "max_body" in text and '"ok"' not in text
    status, _ = raw(port, f"/ops/flows/{FLOW}/check", body, headers, chunked=False)
    assert status == 413


def test_chunked_publish_over_the_limit_publishes_nothing(
        server: tuple[int, dict[str, str]]) -> None:
    port, session = server
    form = urllib.parse.urlencode({"yaml": TEXT + "#" + "x" * MAX_BODY, "based_on": "",
                                   "csrf_token": session["X-CSRF-Token"]}).encode()
    status, _ = raw(port, f"/ops/flows/{FLOW}/publish", form,
                    {"Cookie": session["Cookie"],
                     "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413


def test_chunked_webhook_over_the_limit_is_refused(server: tuple[int, dict[str, str]]) -> None:
    port, _ = server
    url = f"http://127.0.0.1:{port}/voice/status"
    params = {"CallSid": "CA" + "1" * 32, "CallStatus": "completed",
              "Extra": "y" * (2 * MAX_BODY)}
    body = urllib.parse.urlencode(params).encode()
    headers = {"X-Twilio-Signature": sign(url, params),
               "Content-Type": "application/x-www-form-urlencoded"}
    assert raw(port, "/voice/status", body, headers)[0] == 413
    small = {"CallSid": "CA" + "1" * 32, "CallStatus": "ringing"}
    headers["X-Twilio-Signature"] = sign(url, small)
    status, text = raw(port, "/voice/status", urllib.parse.urlencode(small).encode(), headers)
    assert status == 200, text  # a chunked signed webhook under the limit is read whole
