"""The flow registry: compiled flow versions per process, and publishing new versions.

:class:`Flows` holds the compiled versions this process serves, by (id, version), built
from the source text stored in Redis the first time a version is asked for. It is bounded:
an LRU of ``compiled_cache_size`` versions (:class:`ivr.flowlang.lru.LRU`). A version a
call in flight is pinned to keeps working after it was evicted: the next turn compiles it
again from its text in Redis (every published version is kept there).

Reload without restart: :func:`reload_flows` (``ivr reload``) re-checks ``flows_dir`` and
moves ``ivr:flow:{id}:current`` to each valid version that changed since the last reload
(audited); broken files are refused and the old version keeps serving, and a changed file
never silently overwrites a newer console publish (``--force`` does, audited). Web workers
read the current pointer once per *new* call (one GET), so they pick the new version up
without a restart, while calls in flight stay on the version they started with.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.config import Settings, load_settings
from ivr.flowlang.catalog import Checked, check_files, compile_text
from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.lru import LRU
from ivr.flowlang.machine import Compiled
from ivr.store import audit
from ivr.store.calls import Store
from ivr.store.connection import connect

log = logging.getLogger(__name__)


class UnknownFlow(LookupError):
    """No published flow (or flow version) by that id."""


class Flows:
    """Compiled flows by (id, version), built from their text in Redis when first asked
    for, the ``size`` most recently used kept (plus each flow's start-up version)."""

    def __init__(self, size: int) -> None:
        self._by_version: LRU[tuple[str, str], Compiled] = LRU(size)
        self._files: dict[str, tuple[Compiled, str]] = {}

    def add_file(self, c: Compiled, text: str) -> None:
        """Remember the version compiled from ``flows_dir`` at start-up (with its text)."""
        self.add(c)
        self._files[c.flow.id] = (c, text)

    def republish(self, store: Store, flow_id: str) -> str | None:
        """Redis lost ``flow_id``'s current version (restarted empty): put this process's
        start-up version back (without overriding one another process put back first) and
        return the version new calls start on; None for a flow this process never had."""
        hit = self._files.get(flow_id)
        if hit is None:
            return None
        c, text = hit
        store.put_flow(flow_id, c.flow.version, text)
        store.set_current_if_missing(flow_id, c.flow.version)
        log.warning("flow %s had no current version in Redis: republished %s", flow_id,
                    c.flow.version)
        return store.current(flow_id) or c.flow.version

    def started(self) -> list[Compiled]:
        """The flows of ``flows_dir`` this process started with."""
        return [c for c, _ in self._files.values()]

    def ids(self) -> set[str]:
        """Flow ids this process serves: its start-up flows and the versions it holds."""
        return set(self._files) | {flow_id for flow_id, _ in self._by_version.keys()}

    def add(self, c: Compiled) -> Compiled:
        """Hold ``c`` (the one already held for its version wins); the held one."""
        return self._by_version.add((c.flow.id, c.flow.version), c)

    def __len__(self) -> int:
        """How many compiled versions are held (at most the size)."""
        return len(self._by_version)

    def pinned(self, store: Store, flow_id: str, version: str) -> Compiled:
        """Version ``version`` of ``flow_id``, compiled from Redis the first time."""
        hit = self._by_version.get((flow_id, version))
        if hit is not None:
            return hit
        started = self._files.get(flow_id)
        if started is not None and started[0].flow.version == version:
            return self.add(started[0])
        text = store.flow_text(flow_id, version)
        if text is None:
            raise UnknownFlow(f"{flow_id}@{version}")
        c = compile_text(text, f"redis:{flow_id}@{version}")
        if c.flow.id != flow_id:
            raise UnknownFlow(f"{flow_id}@{version} holds flow {c.flow.id!r}")
        return self.add(c)


@dataclass
class ReloadResult:
    """What a reload did: versions made current, files left unchanged (or unchanged since
    the last reload while the console published a newer version: ``kept``), files refused
    for their problems (``failed``) or because they would overwrite a console publish
    (``overwrite``: flow id, file version, current version, who published it)."""

    published: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    failed: list[Checked] = field(default_factory=list)
    kept: list[tuple[str, str, str]] = field(default_factory=list)
    overwrite: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for c in self.failed for p in c.problems]


def check_flows(settings: Settings) -> tuple[list[Compiled], list[Checked], list[str]]:
    """Check and compile every flow in ``flows_dir``: (compiled, failed files, sources)."""
    good: list[Compiled] = []
    texts: list[str] = []
    failed: list[Checked] = []
    for checked in check_files([settings.flows_dir]):
        if checked.flow is None or not checked.ok():
            failed.append(checked)
            continue
        good.append(compile_text(checked.source.text, checked.source.file))
        texts.append(checked.source.text)
    return good, failed, texts


def reload_flows(settings: Settings, store: Store, flows: Flows | None = None,
                 force: bool = False, who: str = "ivr reload") -> ReloadResult:
    """Publish the flow files that changed since the version ``ivr reload`` published last.

    A file still at that version changes nothing (a console publish since then stays
    current: ``kept``). A changed file whose flow was published from the console since is
    refused (``overwrite``) unless ``force``. A broken file changes nothing for its flow.
    Every publish is one compare-and-set with an audit entry (``action: reload``).
    """
    good, failed, texts = check_flows(settings)
    result = ReloadResult(failed=failed)
    for c, text in zip(good, texts, strict=True):
        _reload_one(store, c, text, result, force, who)
        if flows is not None:
            flows.add(c)
    return result


def _reload_one(store: Store, c: Compiled, text: str, result: ReloadResult, force: bool,
                who: str) -> None:
    fid, version = c.flow.id, c.flow.version
    conn = store.conn
    current, last = store.current(fid), audit.reloaded(conn, fid)
    if current == version:
        store.put_flow(fid, version, text)
        result.unchanged.append((fid, version))
        return
    if version == last and current is not None:
        result.kept.append((fid, version, current))
        return
    by_console = audit.console_published(conn, fid, current)
    if by_console is not None and not force:
        result.overwrite.append((fid, version, current or "",
                                 f"{by_console['who']} at {by_console['at']}"))
        return
    old = store.flow_text(fid, current) or "" if current else ""
    entry = audit.entry("reload", who, current or "", version, old, text,
                        "--force over a console publish" if by_console else "")
    done = audit.commit(conn, fid, text, version, current or "", entry, reload=True)
    if done.ok:
        result.published.append((fid, version))
    else:  # someone published meanwhile: never overwrite what we did not see
        result.overwrite.append((fid, version, done.current or "", "a publish meanwhile"))


def reload_from_config(overrides: Mapping[str, Any] | None = None) -> ReloadResult:
    """``ivr reload``: load settings (``config_path`` key allowed), connect, publish.

    Raises:
        ConfigError: Bad settings.
    """
    over = dict(overrides or {})
    force = bool(over.pop("force", False))
    settings = load_settings(over.pop("config_path", None), over)
    conn = connect(settings)
    try:
        return reload_flows(settings, Store(conn, settings.call_ttl), force=force)
    finally:
        conn.close()


