"""The catalog of flows: find flow files, check them, compile each version once.

Used by the CLI (``ivr validate``), the app (compile every flow at start-up, so a bad flow
is a failed deploy, not a failed call) and reload. A flow version is the hash of its text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from ivr.flowlang.checks.rules import check
from ivr.flowlang.diagnostics import FlowError, Problem, errors_in
from ivr.flowlang.machine import Compiled, compile_flow, compiled
from ivr.flowlang.model import Flow, version_of
from ivr.flowlang.positions import Source
from ivr.flowlang.source import load, load_file

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass
class Checked:
    """The result of checking one file: the source, its problems and (if valid) the flow."""

    source: Source
    problems: list[Problem]
    flow: Flow | None = None

    def ok(self, strict: bool = False) -> bool:
        return self.flow is not None and not errors_in(self.problems, strict)


def flow_files(paths: Iterable[str]) -> Iterator[str]:
    """Every flow file under ``paths`` (files are yielded as given, directories walked)."""
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, files in sorted(os.walk(path)):
                for name in sorted(files):
                    if name.endswith(FLOW_SUFFIXES):
                        yield os.path.join(root, name)
        else:
            yield path


def check_source(src: Source) -> Checked:
    """Check a loaded source; the flow carries the version hash of the text."""
    flow, problems = check(src)
    if flow is not None:
        flow = replace(flow, version=version_of(src.text))
    return Checked(src, sorted(problems, key=Problem.sort_key), flow)


def check_file(path: str) -> Checked:
    return check_source(load_file(path))


def check_files(paths: Iterable[str]) -> list[Checked]:
    """Check every flow file under ``paths``, and that no two of them share a flow id
    (IVR209 at each one's ``flow:``: copying a flow file and keeping its id would otherwise
    publish one, then the other)."""
    results = [check_file(path) for path in flow_files(paths)]
    by_id: dict[str, list[Checked]] = {}
    for checked in results:
        if checked.flow is not None:
            by_id.setdefault(checked.flow.id, []).append(checked)
    for flow_id, same in by_id.items():
        for checked in same if len(same) > 1 else ():
            others = ", ".join(_where(o) for o in same if o is not checked)
            checked.problems.append(checked.source.problem(
                "IVR209", f"flow id '{flow_id}' is also the id of {others}", ("flow",),
                "give each flow file its own `flow:` id (the id is what a phone number's "
                "Voice URL names)"))
            checked.problems.sort(key=Problem.sort_key)
    return results


def _where(checked: Checked) -> str:
    at = checked.source.pos(("flow",))
    return f"{checked.source.file}:{at.line}:{at.col}"


def check_text(text: str, file: str = "<flow>") -> Checked:
    return check_source(load(text, file))


def compile_text(text: str, file: str = "<flow>", cached: bool = True) -> Compiled:
    """Check and compile flow text; FlowError when it has errors.

    ``cached=False`` builds a machine of its own instead of going through the process's
    cache of compiled versions (drafts, which must not crowd published versions out).
    """
    checked = check_text(text, file)
    if checked.flow is None or not checked.ok():
        raise FlowError(errors_in(checked.problems) or checked.problems)
    return compiled(checked.flow) if cached else compile_flow(checked.flow)


@dataclass
class Catalog:
    """The current version of each flow id, plus every version compiled so far."""

    current: dict[str, Compiled] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def add_text(self, text: str, file: str = "<flow>") -> Compiled:
        """Check, compile and make current; FlowError (old version kept) when invalid."""
        c = compile_text(text, file)
        self.current[c.flow.id] = c
        self.texts[c.flow.id] = text
        return c

    def get(self, flow_id: str) -> Compiled | None:
        return self.current.get(flow_id)


def load_dir(paths: Iterable[str]) -> tuple[Catalog, list[Checked]]:
    """Compile every valid flow under ``paths``; return the catalog and the failures."""
    catalog, failed = Catalog(), []
    for checked in check_files(paths):
        if checked.flow is None or not checked.ok():
            failed.append(checked)
            continue
        catalog.add_text(checked.source.text, checked.source.file)
    return catalog, failed
