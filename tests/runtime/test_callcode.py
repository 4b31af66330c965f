"""Short call codes: four digits from the CallSid, the same in every process, spoken digit
by digit at the end of the whisper."""

from __future__ import annotations

from ivr.flowlang.catalog import check_file
from ivr.runtime.callcode import is_code, short_code, spoken
from ivr.runtime.events import CallState
from ivr.runtime.prompts import whisper
from tests.conftest import ROOT


def test_a_code_is_four_digits_fixed_by_the_sid() -> None:
    sids = [f"CA{n:032x}" for n in range(2000)]
    codes = [short_code(s) for s in sids]
    assert all(is_code(c) for c in codes) and codes == [short_code(s) for s in sids]
    assert short_code("CA1") == "6995"  # stable across processes and versions (sha256)
    assert len(set(codes)) > 1800  # spread over the 10,000 codes
    assert not is_code("123") and not is_code("12345") and not is_code("12a4")


def test_the_whisper_ends_with_the_spoken_code() -> None:
    flow = check_file(str(ROOT / "flows" / "card-services.yaml")).flow
    assert flow is not None
    said = whisper(CallState("CA1", flow.id, "v", reason="lost my card"), flow)
    assert said.startswith("Caller from the card services line. They said: lost my card.")
    assert said.endswith(f"Call code {spoken('6995')}.") and spoken("0427") == "0 4 2 7"
