"""Twilio's parameters are untrusted text: only ASCII digits are numbers, never an error."""

from __future__ import annotations

import pytest

from ivr.runtime.events import EventKind
from ivr.telephony.params import count, event_from, queue_number, queue_status


@pytest.mark.parametrize("raw", ["²", "１２", "٣", "-1", "1e3", "", " ", "12a", None])
def test_counts_are_ascii_digits_only(raw: str | None) -> None:
    assert count(raw) is None


def test_counts_that_are_numbers() -> None:
    assert count("12") == 12 and count(" 7 ") == 7 and count("0") == 0


@pytest.mark.parametrize("digits,kept", [("²", ""), ("１２", ""), ("1²2", "12"), ("0#", "0#"),
                                          ("*9", "*9"), ("\x00\x0b5", "5")])
def test_digits_keep_only_dtmf(digits: str, kept: str) -> None:
    event = event_from("turn", {"Digits": digits})
    assert event.kind is EventKind.DIGITS and event.digits == kept


@pytest.mark.parametrize("raw", ["０.９", "1.5", "-0.1", "nan", "inf", "0x1", "²"])
def test_unusable_confidence_is_unknown(raw: str) -> None:
    assert event_from("turn", {"SpeechResult": "agent", "Confidence": raw}).confidence is None


def test_recording_duration_and_queue_numbers_are_ascii() -> None:
    assert event_from("recording", {"RecordingUrl": "u", "RecordingDuration": "１２"}
                      ).duration == 0
    assert event_from("recording", {"RecordingUrl": "u", "RecordingDuration": "12"}
                      ).duration == 12
    assert queue_number("１２") == 0 and queue_number("12") == 12
    status = queue_status({"QueuePosition": "²", "QueueTime": "30", "AvgQueueTime": "x"})
    assert (status.position, status.waited, status.average) == (0, 30, 0)
