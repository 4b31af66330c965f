"""Amazon Transcribe Call Analytics output (JSON; Amazon Connect Contact Lens is alike).

The post-call output holds ``Transcript``: a list of segments, each with
``ParticipantRole`` (``AGENT`` or ``CUSTOMER``), ``Content`` (the text),
``BeginOffsetMillis`` / ``EndOffsetMillis``, ``Id``, ``Sentiment`` and word ``Items``.
``CUSTOMER`` is the caller and ``AGENT`` a person; when the AGENT channel of your
recordings carries the old IVR too, map it with ``--speaker AGENT=system`` and give
``--person-from SECONDS`` (when the person joined). Contact Lens' ``SYSTEM`` and
``CUSTOM_BOT`` roles are the old system.
"""

from __future__ import annotations

from ivr.qa.importers.model import BadInput, Call, Turn, field_of, parse_json

DEFAULTS = {"customer": "caller", "agent": "agent", "system": "system",
            "custom bot": "system", "supervisor": "agent"}


def looks_like(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("Transcript"), list)


def read(text: str, file: str) -> Call:
    """The turns of a Call Analytics JSON file."""
    data = parse_json(text, file)
    if not looks_like(data):
        raise BadInput(file, "$.Transcript", "expected Call Analytics output: an object "
                       "with 'Transcript': [{ParticipantRole, Content, BeginOffsetMillis}]")
    assert isinstance(data, dict)
    turns = []
    for i, seg in enumerate(data["Transcript"]):
        path = f"$.Transcript[{i}]"
        if not isinstance(seg, dict):
            raise BadInput(file, path, f"expected a segment object, got {type(seg).__name__}")
        role = field_of(seg, path, file, "ParticipantRole", kind=str)
        content = field_of(seg, path, file, "Content", kind=str)
        begin = field_of(seg, path, file, "BeginOffsetMillis", kind=(int, float),
                         required=False)
        at = float(begin) / 1000 if isinstance(begin, int | float) else None
        turns.append(Turn(str(role), str(content), f"{path}.Content", at))
    turns.sort(key=lambda t: t.at if t.at is not None else 0.0)
    return Call(file, "amazon", turns)
