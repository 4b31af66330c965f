"""The stored TwiML: packed small, read back whatever zlib settings wrote it."""

from __future__ import annotations

import zlib

from ivr.store.calls import _PACKED, _ZDICT, _pack, _unpack

GATHER = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://x.example'
          '/voice/card-services/event?e=turn&amp;turn={n}" input="dtmf speech" numDigits="1">'
          '<Say language="en-US" voice="Polly.Joanna">{text}</Say></Gather></Response>')


def test_documents_small_and_large_come_back_whole() -> None:
    for n, text in enumerate(["Press 1.", "Say what you need. " * 40, "Long menu. " * 3000]):
        twiml = GATHER.format(n=n, text=text)
        packed = _pack(twiml)
        assert packed[:1] == _PACKED and _unpack(packed) == twiml
        assert len(packed) < len(twiml)


def test_a_typical_document_packs_as_small_as_with_zlibs_defaults() -> None:
    twiml = GATHER.format(n=3, text="Thanks. To report a lost or stolen card, press 1.")
    default = zlib.compressobj(6, zdict=_ZDICT)
    assert len(_pack(twiml)) <= 1 + len(default.compress(twiml.encode()) + default.flush())


def test_what_earlier_versions_stored_still_reads() -> None:
    twiml = GATHER.format(n=2, text="Press 2 for your balance.")
    full_window = zlib.compressobj(6, zdict=_ZDICT)        # the 32 KB window of before
    assert _unpack(_PACKED + full_window.compress(twiml.encode()) + full_window.flush()) == twiml
    assert _unpack(zlib.compress(twiml.encode())) == twiml  # before the preset dictionary
    assert _unpack(None) == "" and _unpack(b"") == ""


def test_packing_with_the_primed_copy_writes_what_a_fresh_compressor_writes() -> None:
    """_pack copies one compressor with the dictionary loaded; the bytes are those of a new
    compressobj with the same settings, every time and from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ivr.store.calls import _MEMLEVEL, _WBITS

    def fresh(twiml: str) -> bytes:
        z = zlib.compressobj(6, zlib.DEFLATED, _WBITS, _MEMLEVEL, zdict=_ZDICT)
        return _PACKED + z.compress(twiml.encode()) + z.flush()

    docs = [GATHER.format(n=n, text="Press 1. " * n) for n in range(1, 60)]
    with ThreadPoolExecutor(4) as pool:
        packed = list(pool.map(_pack, docs * 3))
    assert packed == [fresh(d) for d in docs * 3]
    assert [_unpack(p) for p in packed[:len(docs)]] == docs
