"""A pretend Twilio: posts correctly signed webhooks with real parameter names and follows
the action URLs in the TwiML it gets back (the ``AuthActions`` idea from Flask's tutorial).

Works over any transport: the Flask test client (:func:`flask_transport`) or real HTTP
(:func:`http_transport`), so unit tests and the gunicorn end-to-end test share it.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "0" * 32
CALLER = "+12125551234"
LINE = "+18005550100"


@dataclass
class Reply:
    status: int
    text: str

    @property
    def xml(self) -> ET.Element:
        return ET.fromstring(self.text)


Transport = Callable[[str, Mapping[str, str], Mapping[str, str]], Reply]


def flask_transport(client: Any) -> Transport:
    """Send through a Flask test client (absolute URLs are fine)."""

    def send(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        r = client.post(url, data=dict(data), headers=dict(headers), buffered=True)
        return Reply(r.status_code, r.get_data(as_text=True))

    return send


def http_transport(timeout: float = 20) -> Transport:
    """Send real HTTP requests with urllib."""

    def send(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        body = urllib.parse.urlencode(dict(data)).encode()
        req = urllib.request.Request(url, body, dict(headers), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, r.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode())

    return send


def sign(url: str, params: Mapping[str, str], token: str = TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for this POST."""
    return str(RequestValidator(token).compute_signature(url, dict(params)))


@dataclass
class TwilioCaller:
    """One phone call, driven like Twilio drives it.

    Args:
        send: The transport.
        base: Base URL of the server as Twilio sees it (``http://localhost`` for Flask).
        token: Auth token used to sign.
    """

    send: Transport
    base: str = "http://localhost"
    token: str = TOKEN
    sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    flow: str = "card-services"
    caller: str = CALLER
    last: Reply | None = None
    replies: list[Reply] = field(default_factory=list)

    # --- low level ------------------------------------------------------------------------

    def params(self, **extra: str) -> dict[str, str]:
        p = {"CallSid": self.sid, "AccountSid": ACCOUNT, "From": self.caller, "To": LINE,
             "Caller": self.caller, "Called": LINE, "CallStatus": "in-progress",
             "Direction": "inbound", "ApiVersion": "2010-04-01"}
        p.update(extra)
        return p

    def post(self, url: str, params: Mapping[str, str], signature: str | None = None,
             keep: bool = True) -> Reply:
        """POST signed ``params`` to ``url`` (``signature`` overrides the correct one)."""
        sig = sign(url, params, self.token) if signature is None else signature
        headers = {"X-Twilio-Signature": sig} if sig else {}
        reply = self.send(url, params, headers)
        if keep:
            self.last = reply
            self.replies.append(reply)
        return reply

    # --- what the caller does ---------------------------------------------------------------

    def dial(self, flow: str | None = None) -> Reply:
        """Place the call: Twilio requests the Voice URL."""
        self.flow = flow or self.flow
        return self.post(f"{self.base}/voice/{self.flow}", self.params(CallStatus="ringing"))

    def press(self, digits: str) -> Reply:
        return self.post(self.gather_action(), self.params(Digits=digits, FinishedOnKey=""))

    def say(self, text: str, confidence: float = 0.9) -> Reply:
        return self.post(self.gather_action(), self.params(
            SpeechResult=text, Confidence=f"{confidence:.6f}"))

    def silence(self) -> Reply:
        """The Gather timed out: Twilio posts to its action with no input."""
        return self.post(self.gather_action(), self.params())

    def answered(self, status: str = "completed") -> Reply:
        """The Dial/Enqueue finished with DialCallStatus ``status``."""
        return self.post(self.action("Dial", "Enqueue"), self.params(DialCallStatus=status))

    def record(self, url: str = "https://api.twilio.com/rec/RE1", duration: int = 9) -> Reply:
        return self.post(self.action("Record"), self.params(
            RecordingUrl=url, RecordingDuration=str(duration), RecordingSid="RE" + "1" * 32))

    def hangup(self, status: str = "completed") -> Reply:
        """The status callback at the end of the call."""
        return self.post(f"{self.base}/voice/status", self.params(
            CallStatus=status, CallDuration="42"), keep=False)

    # --- reading the TwiML --------------------------------------------------------------------

    def action(self, *verbs: str) -> str:
        assert self.last is not None, "no TwiML yet: dial() first"
        for verb in verbs:
            node = self.last.xml.find(verb)
            if node is not None and node.get("action"):
                return str(node.get("action"))
        raise AssertionError(f"no {'/'.join(verbs)} with an action in:\n{self.last.text}")

    def gather_action(self) -> str:
        return self.action("Gather")

    def redirect_url(self) -> str:
        assert self.last is not None
        node = self.last.xml.find("Redirect")
        assert node is not None and node.text, self.last.text
        return node.text

    @property
    def verbs(self) -> list[str]:
        assert self.last is not None
        return [n.tag for n in self.last.xml]

    @property
    def spoken(self) -> str:
        """Everything said in the last TwiML, joined."""
        assert self.last is not None
        return " ".join(n.text or "" for n in self.last.xml.iter("Say"))

    @property
    def dialled(self) -> str:
        """The number the last TwiML dials ('' if none)."""
        assert self.last is not None
        dial = self.last.xml.find("Dial")
        if dial is None:
            return ""
        number = dial.find("Number")
        return (number.text if number is not None else dial.text) or ""
