"""Replay transcripts against a running server (``ivr replay --via URL``), as Twilio would.

The call starts with ``POST {URL}/voice/<flow_id>``; every TwiML response names the next
webhooks: the ``<Gather action>`` (keys or speech), the ``<Redirect>`` after it (silence),
the ``<Dial action>`` / ``<Enqueue action>`` (how ringing a person went), the
``<Record action>`` (the voicemail) and the ``<Number statusCallback>`` (the person's phone
rang, answered: ``leg`` steps, which leave what the caller hears as it was). Requests are
signed like Twilio's, with ``X-Twilio-Signature``. What the caller heard and which verbs
came back are read from the TwiML; the state and outcome from the ``X-IVR-State`` /
``X-IVR-Outcome`` response headers when the server sets them (otherwise ``expect.state``
and ``outcome`` are not checked).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urljoin
from xml.etree import ElementTree as ET

from twilio.request_validator import RequestValidator

from ivr.qa.drivers import Observed, keypad
from ivr.qa.transcript import Step, Transcript
from ivr.qa.transcript_schema import DEFAULT_CALLER

Response = tuple[int, Mapping[str, str], str]
Transport = Callable[[str, dict[str, str], dict[str, str]], Response]
_VERBS = {"say", "play", "pause", "gather", "dial", "enqueue", "record", "redirect", "hangup",
          "leave"}


def urllib_post(url: str, params: dict[str, str], headers: dict[str, str]) -> Response:
    """POST form ``params`` to ``url``; (status, headers, body), also for HTTP errors."""
    req = urllib.request.Request(url, urlencode(params).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - http(s) only
            return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode("utf-8", "replace")


class HttpDriver:
    """One call against a server: posts signed webhooks and reads the TwiML back.

    Args:
        base: The server's base URL, e.g. ``http://127.0.0.1:5000``.
        flow: Flow id (the call starts at ``{base}/voice/{flow}``).
        auth_token: Twilio auth token used to sign; default ``TWILIO_AUTH_TOKEN``.
        transport: How to POST (default :func:`urllib_post`; tests pass a Flask client).
    """

    def __init__(self, base: str, flow: str, auth_token: str = "",
                 transport: Transport | None = None) -> None:
        self.base = base.rstrip("/")
        self.start_url = f"{self.base}/voice/{flow}"
        token = auth_token or os.environ.get("TWILIO_AUTH_TOKEN", "")
        self.validator = RequestValidator(token)
        self.post = transport or urllib_post
        self.params = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32,
                       "From": DEFAULT_CALLER, "To": "+15551230000"}
        self.urls: dict[str, str] = {}
        self.keys: tuple[int, str] = (0, "#")
        self.states: set[str] = set()
        self.edges: set[str] = set()
        self.last = Observed(None, [], [])

    def start(self, t: Transcript) -> Observed:  # the server keeps the clock
        self.params["From"] = t.caller or "anonymous"
        if not t.answered_by:
            return self._post(self.start_url, {"CallStatus": "ringing"})
        # a callback we placed: Twilio rings the caller (To) and tells who answered
        self.params["From"], self.params["To"] = self.params["To"], t.caller or DEFAULT_CALLER
        url = f"{self.start_url}?callback=CAearlier{'0' * 23}&attempt={t.attempt}"
        return self._post(url, {"CallStatus": "in-progress", "AnsweredBy": t.answered_by})

    def send(self, s: Step) -> Observed:
        if s.kind == "leg":
            return self._leg(s)
        url, extra = self._target(s)
        return self._post(url, {"CallStatus": "in-progress", **extra})

    def _leg(self, s: Step) -> Observed:
        """The person's phone leg reports (its own CallSid, the caller's as the parent):
        the caller's call is where it was."""
        url = self.urls.get("leg")
        if url is None:
            raise RuntimeError(f"step {s.number} ({s.describe()}): the last TwiML has no "
                               "<Number statusCallback> to send it to")
        status = {"answered": "in-progress"}.get(s.value, s.value)
        self._signed(url, {**self.params, "CallSid": self.params["CallSid"] + "L",
                           "ParentCallSid": self.params["CallSid"], "CallStatus": status})
        return Observed(self.last.state, [], [], False, self.last.outcome)

    def _target(self, s: Step) -> tuple[str, dict[str, str]]:
        if s.kind == "hangup":  # Twilio's status callback
            return f"{self.base}/voice/status", {"CallStatus": "completed"}
        need = {"press": "gather", "say": "gather", "silence": "redirect",
                "dial_result": "dial", "recording": "record", "wait": "wait"}[s.kind]
        if s.kind == "recording" and not s.seconds:
            need = "redirect"  # no audio: Twilio goes on to the verb after <Record>
        url = self.urls.get(need) or (self.urls.get("gather") if need == "redirect" else None)
        if url is None:
            raise RuntimeError(f"step {s.number} ({s.describe()}): the last TwiML has no "
                               f"<{need.capitalize()}> to send it to")
        if s.kind == "press":
            return url, {"Digits": keypad(s.value, *self.keys)}
        if s.kind == "say":
            conf = "" if s.confidence is None else f"{s.confidence}"
            return url, {"SpeechResult": s.value, "Confidence": conf or "0.9"}
        if s.kind == "dial_result":
            key = "QueueResult" if self.urls.get("queue") else "DialCallStatus"
            value = "bridged" if key == "QueueResult" and s.value == "completed" else s.value
            return url, {key: value}
        if s.kind == "recording" and s.seconds:
            return url, {"RecordingUrl": f"https://recordings.invalid/{s.number}",
                         "RecordingDuration": str(s.seconds)}
        if s.kind == "wait":
            return url, {"QueuePosition": str(s.position), "QueueTime": str(s.seconds),
                         "AvgQueueTime": "0", "CurrentQueueSize": str(max(s.position, 1))}
        return url, {}

    def _post(self, url: str, extra: dict[str, str]) -> Observed:
        resp_headers, body = self._signed(url, {**self.params, **extra})
        return self._read(url, body, {k.lower(): v for k, v in resp_headers.items()})

    def _signed(self, url: str, params: dict[str, str]) -> tuple[Mapping[str, str], str]:
        """POST ``params`` signed as Twilio signs them; (headers, body), or RuntimeError
        for an HTTP error."""
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params),
                   "Content-Type": "application/x-www-form-urlencoded"}
        status, resp_headers, body = self.post(url, params, headers)
        if status >= 400:
            raise RuntimeError(f"POST {url} answered HTTP {status}: {body[:200]}")
        return resp_headers, body

    def _read(self, url: str, body: str, headers: Mapping[str, str]) -> Observed:
        root = ET.fromstring(body)
        said = [" ".join((el.text or "").split()) for el in root.iter("Say")]
        actions = [el.tag.lower() for el in root if el.tag.lower() in _VERBS]
        urls = parse_urls(root, url)
        if "queue" not in urls and self.urls.get("queue") and "dial" not in urls:
            # still in the queue: the Enqueue's result URL and the wait URL carry on
            urls.update({k: self.urls[k] for k in ("queue", "dial") if k in self.urls})
            urls.setdefault("wait", self.urls.get("wait", ""))
        self.urls = {k: v for k, v in urls.items() if v}
        gather = root.find("Gather")
        if gather is not None:
            num = gather.get("numDigits", "")
            self.keys = (int(num) if num.isdigit() else 0, gather.get("finishOnKey", "#"))
        state = headers.get("x-ivr-state")
        if state:
            self.states.add(state)
        self.last = Observed(state, said, actions, "hangup" in actions or not self.urls,
                             headers.get("x-ivr-outcome"))
        return self.last


def parse_urls(root: ET.Element, url: str) -> dict[str, str]:
    """The next webhook of each kind in a TwiML document, made absolute against ``url``."""
    urls: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.lower()
        if tag in ("gather", "dial", "record", "enqueue"):
            key = "dial" if tag == "enqueue" else tag
            urls[key] = urljoin(url, el.get("action") or url)
            if tag == "enqueue":
                urls["queue"] = urls[key]
                urls["wait"] = urljoin(url, el.get("waitUrl") or "")
        elif tag == "number" and el.get("statusCallback"):
            urls["leg"] = urljoin(url, el.get("statusCallback") or "")
        elif tag == "redirect" and el.text:
            urls["redirect"] = urljoin(url, el.text.strip())
            if "/wait?e=wait" in urls["redirect"]:
                urls["wait"] = urls["redirect"]
    return urls
