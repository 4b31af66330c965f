"""``ivr import``: recorded call transcripts → replayable QA transcripts.

One module per format (:data:`FORMATS`): plain speaker-labelled text, WebVTT, SRT,
Twilio Voice Intelligence sentences, Amazon Transcribe Call Analytics. Each reads a file
into a :class:`~ivr.qa.importers.model.Call`; :class:`~ivr.qa.importers.model.Speakers`
gives every turn its role; :func:`ivr.qa.importers.build.build` makes the transcript and
:func:`ivr.qa.writer.dump` writes it. The format comes from ``--format``, else the
extension (``.txt .vtt .srt .json``), else the content.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivr.qa.importers import amazon, srt, text, twilio, webvtt
from ivr.qa.importers.build import Built, build
from ivr.qa.importers.captions import TIMING
from ivr.qa.importers.model import BadInput, Call, Speakers, parse_json
from ivr.qa.writer import HEAD, dump

Reader = Callable[[str, str], Call]
FORMATS: dict[str, tuple[Reader, Mapping[str, str]]] = {
    "text": (text.read, {}),
    "webvtt": (webvtt.read, {}),
    "srt": (srt.read, {}),
    "twilio": (twilio.read, twilio.DEFAULTS),
    "amazon": (amazon.read, amazon.DEFAULTS),
}
"""Format name → (reader, its speaker labels on top of the shared ones)."""
EXTENSIONS = {".txt": "text", ".text": "text", ".vtt": "webvtt", ".srt": "srt"}
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Options:
    """How to import: the flow, speakers, clock, the moment a person joined, the format."""

    flow: str
    speakers: Speakers = field(default_factory=Speakers)
    clock: str = ""
    person_from: float | None = None
    format: str = ""


def detect(path: str, content: str) -> str:
    """The format of ``path``: by extension, then by content (JSON shape, WEBVTT, SRT)."""
    ext = Path(path).suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    head = content.lstrip("\ufeff \t\r\n")
    if ext == ".json" or head.startswith(("{", "[")):
        data = parse_json(content, path)
        if amazon.looks_like(data):
            return "amazon"
        if twilio.looks_like(data):
            return "twilio"
        raise BadInput(path, "$", "JSON that is neither Twilio transcript sentences "
                       "('sentences': [...]) nor Call Analytics output ('Transcript': [...])",
                       "give --format twilio or --format amazon if it is one of them")
    if head.startswith("WEBVTT"):
        return "webvtt"
    lines = head.splitlines()
    if len(lines) > 1 and lines[0].strip().isdigit() and TIMING.match(lines[1]):
        return "srt"
    return "text"


def read_text(path: str) -> str:
    """The file's text; BadInput when it is empty, too big or not UTF-8."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise BadInput(path, "", f"file is {size} bytes (at most {MAX_BYTES})")
        with open(path, encoding="utf-8") as fh:
            content = fh.read()
    except UnicodeDecodeError as exc:
        raise BadInput(path, f"byte {exc.start}", "not UTF-8 text",
                       "save the transcript as UTF-8") from None
    except OSError as exc:
        raise BadInput(path, "", f"cannot read: {exc.strerror}") from None
    if not content.strip():
        raise BadInput(path, "", "empty file: no call to import")
    return content


def read_call(path: str, opts: Options) -> Call:
    """Read ``path`` and give every turn its role."""
    content = read_text(path)
    fmt = opts.format or detect(path, content)
    reader, defaults = FORMATS[fmt]
    call = opts.speakers.assign(reader(content, path), defaults)
    if opts.person_from is not None:
        call.turns = [replace(t, role="agent") if t.role == "system" and t.at is not None
                      and t.at >= opts.person_from else t for t in call.turns]
    return call


def import_file(path: str, opts: Options) -> Built:
    """One recorded call → its transcript (plain data and comments)."""
    call = read_call(path, opts)
    out = build(call, opts.flow, opts.clock, f"imported {Path(path).name}")
    out.comments.setdefault(HEAD, []).append(
        f"imported by ivr import from {path} ({call.format}); the old system's words are "
        "comments")
    return out


def input_files(paths: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(file, its path relative to the directory given, or its name) for every input:
    files as given, directories walked (files of a known extension or .json, sorted)."""
    for path in paths:
        if not os.path.isdir(path):
            yield path, Path(path).name
            continue
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in {*EXTENSIONS, ".json"}:
                    full = os.path.join(root, name)
                    yield full, os.path.relpath(full, path)


@dataclass
class Report:
    """What an import wrote and what it refused."""

    written: list[str] = field(default_factory=list)
    errors: list[BadInput] = field(default_factory=list)


def _import_one(job: tuple[str, str, str, Options]) -> str | BadInput:
    """Import ``path`` into ``target``: the target written, or why not."""
    path, target, _rel, opts = job
    try:
        built = import_file(path, opts)
    except BadInput as exc:
        return exc
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(dump(built.data, built.comments))
    return target


def import_paths(paths: Iterable[str], out_dir: str, opts: Options, jobs: int = 1) -> Report:
    """Import every input under ``paths`` into ``out_dir`` (one transcript per call, the
    input's relative path with ``.yaml``); bad inputs are reported, the rest written.
    ``jobs`` > 1 imports in that many processes (same files, same report)."""
    work: list[tuple[str, str, str, Options]] = []
    taken: set[str] = set()
    for path, rel in input_files(paths):
        stem = os.path.splitext(rel)[0]
        target = os.path.join(out_dir, stem + ".yaml")
        if target in taken:
            target = os.path.join(out_dir, f"{stem}-{Path(rel).suffix.lstrip('.')}.yaml")
        taken.add(target)
        work.append((path, target, rel, opts))
    if jobs > 1 and len(work) >= 2 * jobs:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_import_one, work, chunksize=max(1, len(work) // (jobs * 4))))
    else:
        done = [_import_one(w) for w in work]
    report = Report()
    for item in done:
        if isinstance(item, BadInput):
            report.errors.append(item)
        else:
            report.written.append(item)
    return report


__all__ = ["FORMATS", "BadInput", "Options", "Report", "Speakers", "detect", "import_file",
           "import_paths", "read_call"]
