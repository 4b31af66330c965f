"""Twilio's REST API, through the ``twilio`` SDK: the calls ivr places itself.

Tests replace Twilio at its HTTP boundary by giving the SDK's ``Client`` an
``http_client`` (see :data:`HTTP_CLIENT`); nothing else here is faked.
"""

from __future__ import annotations

from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

HTTP_CLIENT: Any = None
"""An SDK ``HttpClient`` to use instead of the real one (tests only; None: the SDK's)."""


class Rejected(RuntimeError):
    """Twilio answered the request with a client error (4xx): no call was created."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Twilio refused the call (HTTP {status}): {message}")
        self.status = status


AMD = "DetectMessageEnd"
"""Answering-machine detection: Twilio tells ``url`` who answered (``AnsweredBy``) and, for
a machine, waits for the end of its greeting, so a message left then lands after the beep."""
PROGRESS = ["initiated", "ringing", "answered", "completed"]
"""The call-progress events the status callback is asked for (statusCallbackEvent)."""


def place_call(account_sid: str, token: str, to: str, from_: str, url: str,
               status_callback: str = "") -> str:
    """Ring ``to`` from ``from_``; Twilio fetches ``url`` when answered (with ``AnsweredBy``:
    answering-machine detection) and posts each call-progress event to ``status_callback``.
    Returns the CallSid.

    Raises:
        Rejected: Twilio answered 4xx, so nothing rings. Anything else (a timeout, a lost
            connection, a 5xx) leaves it unknown whether the call was created.
    """
    client = Client(account_sid, token, http_client=HTTP_CLIENT)
    try:
        extra: dict[str, Any] = {"status_callback": status_callback,
                                 "status_callback_event": PROGRESS,
                                 "status_callback_method": "POST"} if status_callback else {}
        call = client.calls.create(to=to, from_=from_, url=url, machine_detection=AMD, **extra)
    except TwilioRestException as exc:
        if 400 <= int(exc.status) < 500:
            raise Rejected(int(exc.status), str(exc.msg)) from exc
        raise
    return str(call.sid)
