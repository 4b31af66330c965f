"""The ``ivr`` command line: thin click commands, one library call each.

Shared options come from :func:`pass_cli_context`; Redis is connected lazily, so
``ivr validate`` works with no Redis at all. Exit codes: 0 ok, 1 problems, 2 usage.
Precedence: CLI flag > ``IVR_*`` env var > ``config.yaml`` > defaults.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ivr import __version__
from ivr.catalog import check_file, flow_files
from ivr.errors import Problem, errors_in, format_github, format_parsable, format_standard, to_json

if TYPE_CHECKING:
    from ivr.archive import Archive

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
        return fn(CliContext(config_path, redis_url, flows_dir), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(__version__, prog_name="ivr")
def main() -> None:
    """ivr: voice call flows where a caller can always reach a human."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["standard", "parsable", "github", "json"]),
              default="standard", show_default=True, help="How to print problems.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures.")
@click.option("--color/--no-color", default=None, help="Colour (default: when on a terminal).")
@click.option("--standard", "standards", multiple=True, type=click.Choice(["gethuman"]),
              help="Also check a caller-experience standard (GetHuman R1-R9: GH1-GH9).")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, color: bool | None,
             standards: tuple[str, ...]) -> None:
    """Check flow files (default: flows/). Exit 0 clean, 1 problems, 2 usage."""
    files = list(flow_files(paths or ("flows",)))
    if not files:
        raise click.UsageError(f"no flow files (*.yaml) in {', '.join(paths or ('flows',))}")
    color = sys.stdout.isatty() if color is None else color
    all_problems: list[Problem] = []
    for path in files:
        checked = check_file(path)
        if "gethuman" in standards and checked.flow is not None:
            from ivr.gethuman import check_gethuman

            checked.problems += check_gethuman(checked.flow, checked.source)
        all_problems += checked.problems
        for p in checked.problems:
            if fmt == "standard":
                click.echo(format_standard(p, checked.source.lines, color) + "\n", color=color)
            elif fmt == "parsable":
                click.echo(format_parsable(p))
            elif fmt == "github":
                click.echo(format_github(p))
    if fmt == "json":
        click.echo(to_json(all_problems))
    failing = errors_in(all_problems, strict)
    if fmt == "standard":
        n_err = len(errors_in(all_problems))
        click.echo(f"{len(files)} file(s) checked: {n_err} error(s), "
                   f"{len(all_problems) - n_err} warning(s)", err=bool(failing))
    sys.exit(1 if failing else 0)


@main.command()
@click.argument("flow")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid (renders on GitHub) or Graphviz DOT.")
@pass_cli_context
def graph(ctx: CliContext, flow: str, fmt: str) -> None:
    """Draw FLOW (a flow id in --flows-dir/flows/, or a file). Exit 1 if it is invalid."""
    from ivr.graph import find_flow, render

    path, close = find_flow(flow, ctx.flows_dir or "flows")
    if path is None:
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise click.UsageError(f"no flow {flow!r} in {ctx.flows_dir or 'flows'}/.{hint}")
    checked = check_file(path)
    if checked.flow is None or not checked.ok():
        for p in errors_in(checked.problems):
            click.echo(format_standard(p, checked.source.lines) + "\n", err=True)
        sys.exit(1)
    click.echo(render(checked.flow, fmt), nl=False)


@main.command()
@click.option("--transcript", is_flag=True, help="The QA transcript format instead.")
def schema(transcript: bool) -> None:
    """Print the JSON Schema of the flow format (for editors)."""
    from ivr.schema import FLOW_SCHEMA
    from ivr.transcript import transcript_schema

    click.echo(json.dumps(transcript_schema() if transcript else FLOW_SCHEMA, indent=2))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML to this file.")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Print state and transition coverage per flow, and what nothing visits.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="Exit 1 when a flow's state coverage is below PCT.")
@click.option("--fail-under-transitions", "fail_edges", type=click.FloatRange(0, 100),
              metavar="PCT", help="Exit 1 when a flow's transition coverage is below PCT.")
@click.option("--via", default="", metavar="URL", help="Call a running server over signed HTTP.")
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", default="",
              help="Auth token for --via signatures (env TWILIO_AUTH_TOKEN).")
@click.option("--max-steps", default=200, show_default=True, type=click.IntRange(2),
              help="Engine steps after which a transcript is cut as a runaway.")
@pass_cli_context
def replay(ctx: CliContext, paths: tuple[str, ...], jobs: int, junit: str | None,
           show_coverage: bool, fail_under: float | None, fail_edges: float | None, via: str,
           auth_token: str, max_steps: int) -> None:
    """Replay QA transcripts (files or directories). Exit 0 all pass, 1 any fail, 2 usage."""
    from ivr import replay as rp

    if not rp.transcript_files(paths):
        raise click.UsageError(f"no transcripts (*.yaml) in {', '.join(paths)}")
    opts = rp.Options((ctx.flows_dir or "flows",), max_steps, via, auth_token)
    results = rp.run_paths(paths, opts, jobs)
    for r in results:
        click.echo(r.report())
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results)} transcript(s): {len(results) - failed} passed, {failed} failed")
    if junit:
        with open(junit, "w", encoding="utf-8") as fh:
            fh.write(rp.junit_xml(results))
    cat = rp.catalog_for(opts.flows)
    covs = rp.coverage(results, cat)
    if show_coverage:
        click.echo(rp.format_coverage(covs, cat))
    low = [(c.flow, what, pct, floor) for c in covs.values()
           for what, pct, floor in (("state", c.state_pct(), fail_under),
                                    ("transition", c.edge_pct(), fail_edges))
           if floor is not None and pct < floor]
    for flow_id, what, pct, floor in low:
        click.echo(f"{what} coverage of {flow_id} is {pct:.1f}%, under {floor}%", err=True)
    sys.exit(1 if failed or low else 0)


def _echo(text: str) -> None:
    click.echo(text)


def _prompt() -> None:
    click.echo("> ", nl=False)


@main.command()
@click.argument("flow")
@click.option("--clock", metavar="ISO", help="Time of the call, e.g. 2026-11-22T14:05:00-05:00.")
@click.option("--record", "record_path", type=click.Path(dir_okay=False),
              help="Write the call as a transcript (replay it with ivr replay).")
@pass_cli_context
def simulate(ctx: CliContext, flow: str, clock: str | None, record_path: str | None) -> None:
    """Call FLOW (an id in flows/, or a file) in the terminal. Type help during the call."""
    from ivr.errors import FlowError
    from ivr.simulate import Session, open_flow, run_console
    from ivr.transcript import parse_clock

    try:
        c = open_flow(flow, ctx.flows_dir or "flows")
    except LookupError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    except FlowError as exc:
        for p in exc.problems:
            click.echo(format_parsable(p), err=True)
        sys.exit(1)
    when = parse_clock(clock, c.flow) if clock else None
    if clock and when is None:
        raise click.BadParameter(f"'{clock}' is not an ISO date and time", param_hint="--clock")
    session = Session(c, when)
    stdin = sys.stdin  # CliRunner swaps it in tests; get_text_stream is deprecated (click 8.5)
    run_console(session, stdin, _echo, _prompt if stdin.isatty() else None)
    if record_path:
        with open(record_path, "w", encoding="utf-8") as fh:
            fh.write(session.transcript())
        click.echo(f"transcript written to {record_path}")


def _job_settings(ctx: CliContext, **extra: Any) -> Any:
    """Settings for worker/jobs/inbox; a bad config is a usage error (exit 2)."""
    from ivr.config import ConfigError
    from ivr.worker import settings_for

    try:
        return settings_for(ctx.config_path, ctx.redis_url, **extra)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(format_parsable(p), err=True)
        sys.exit(2)


_ARCHIVE = click.option("--archive", "archive_path", type=click.Path(dir_okay=False),
                        help="Call archive (SQLite) file; default var/archive.db.")


@main.command()
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: generated).")
@_ARCHIVE
@pass_cli_context
def worker(ctx: CliContext, burst: bool, name: str | None, archive_path: str | None) -> None:
    """Run an RQ worker on the ivr queues (re-enqueues spooled jobs first; SIGTERM-safe)."""
    from ivr import worker as rq_worker

    settings = _job_settings(ctx, archive_path=archive_path)
    conn = rq_worker.connect(ctx.redis_url, settings)
    rq_worker.run_worker(conn, settings, burst=burst, name=name)


@main.group(name="jobs")
def jobs_group() -> None:
    """Inspect and retry background jobs (archive, inbox, callbacks, ops notices)."""


@jobs_group.command(name="list")
@pass_cli_context
def jobs_list(ctx: CliContext) -> None:
    """Queued/started/scheduled/failed counts, then each failed job and its error."""
    from ivr import worker as rq_worker

    conn = rq_worker.connect(ctx.redis_url, _job_settings(ctx))
    for queue, counts in rq_worker.stats(conn).items():
        click.echo(f"{queue}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for f in rq_worker.failed(conn):
        click.echo(f"failed {f['id']} ({f['func']}): {f['error']}")


@jobs_group.command(name="retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Requeue every failed job.")
@pass_cli_context
def jobs_retry(ctx: CliContext, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Requeue failed jobs: the JOB_IDS given, or --all. Exit 1 if an id is not failed."""
    from ivr import worker as rq_worker

    if bool(job_ids) == retry_all:
        raise click.UsageError("give failed job ids or --all (not both)")
    conn = rq_worker.connect(ctx.redis_url, _job_settings(ctx))
    done = rq_worker.retry_failed(conn, None if retry_all else job_ids)
    click.echo(f"requeued {len(done)} job(s)" + (": " + ", ".join(done) if done else ""))
    missing = sorted(set(job_ids) - set(done))
    if missing:
        click.echo("not in the failed registry: " + ", ".join(missing), err=True)
        sys.exit(1)


@main.command()
@click.option("--since", metavar="WHEN", help="Only newer items: 7d, 12h, 2w or an ISO date.")
@click.option("--flow", "flow_id", metavar="FLOW", help="Only this flow.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--top", "show_top", is_flag=True, help="Group similar utterances, biggest first.")
@click.option("--limit", type=click.IntRange(1), help="At most this many items (or groups).")
@_ARCHIVE
@pass_cli_context
def inbox(ctx: CliContext, since: str | None, flow_id: str | None, fmt: str, show_top: bool,
          limit: int | None, archive_path: str | None) -> None:
    """What callers said that no menu option matched ("other"), newest first."""
    from ivr import inbox as ib

    items = _open_archive(ctx, archive_path).inbox(_since(since), flow_id)
    if show_top:
        click.echo(ib.render_top(ib.top(i["said"] for i in items)[:limit], fmt))
    else:
        click.echo(ib.render_items(items[:limit], fmt))


@main.command("export")
@click.argument("sids", nargs=-1)
@click.option("--since", metavar="WHEN", help="Calls that ended since: 7d, 12h or an ISO date.")
@click.option("--flow", "flow_id", metavar="FLOW", help="Only this flow's calls.")
@click.option("--out", "out_dir", default="exported", show_default=True,
              type=click.Path(file_okay=False), help="Directory for the transcripts.")
@_ARCHIVE
@pass_cli_context
def export_cmd(ctx: CliContext, sids: tuple[str, ...], since: str | None, flow_id: str | None,
               out_dir: str, archive_path: str | None) -> None:
    """Turn archived calls (SIDS, or --since/--flow) into replayable QA transcripts."""
    from ivr import export

    if not sids and not since and not flow_id:
        raise click.UsageError("name CallSids, or select calls with --since and/or --flow")
    when = _since(since)
    settings = _job_settings(ctx, archive_path=archive_path)
    archive = _open_archive(ctx, archive_path, settings)
    wanted = list(sids) or archive.call_sids(when, flow_id)
    calls = [c for c in map(archive.call, wanted) if c is not None and c.get("turns")]
    missing = sorted(set(wanted) - {str(c["sid"]) for c in calls})
    paths = export.write(calls, out_dir, _flow_sources(ctx, settings))
    click.echo(f"wrote {len(paths)} transcript(s) to {out_dir}/ (replay: ivr replay {out_dir})")
    if missing:
        click.echo("not in the archive (or no turns): " + ", ".join(missing), err=True)
    sys.exit(1 if missing else 0)


def _since(since: str | None) -> datetime | None:
    """--since as a time (7d, 12h, 2w or an ISO date); a usage error when unreadable."""
    from ivr.inbox import parse_since

    try:
        return parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def _open_archive(ctx: CliContext, archive_path: str | None,
                  settings: object | None = None) -> Archive:
    """The call archive named by --archive, else by the settings."""
    from ivr.archive import Archive

    settings = settings or _job_settings(ctx, archive_path=archive_path)
    return Archive(getattr(settings, "archive_path", None) or "var/archive.db",
                   getattr(settings, "caller_key_secret", ""))


def _flow_sources(ctx: CliContext, settings: object) -> Callable[[str, str], str | None]:
    """Flow text by (id, version) from Redis, where every published version is kept."""
    from ivr.worker import connect

    def source(flow_id: str, version: str) -> str | None:
        try:
            raw = connect(ctx.redis_url, settings).get(f"ivr:flow:{flow_id}:{version}")
        except Exception:  # noqa: BLE001 - without Redis, transcripts are still written
            click.echo(f"flow {flow_id}@{version}: source unavailable (Redis)", err=True)
            return None
        return raw.decode() if isinstance(raw, bytes) else raw

    return source


def _server_settings(ctx: CliContext) -> dict[str, Any]:
    """Settings overrides from the shared CLI options (flags beat env and config.yaml)."""
    over: dict[str, Any] = {"config_path": ctx.config_path}
    if ctx.redis_url:
        over["redis_url"] = ctx.redis_url
    if ctx.flows_dir:
        over["flows_dir"] = ctx.flows_dir
    return over


def _fail(exc: Exception, code: int) -> None:
    for p in getattr(exc, "problems", []):
        click.echo(format_standard(p, None) + "\n", err=True)
    sys.exit(code)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@pass_cli_context
def serve(ctx: CliContext, host: str, port: int) -> None:
    """Run the development call server (embedded Redis unless --redis-url)."""
    from ivr.app import dev_app, twilio_urls
    from ivr.config import ConfigError
    from ivr.errors import FlowError

    try:
        app, settings, warning = dev_app(_server_settings(ctx))
    except ConfigError as exc:
        _fail(exc, 2)
    except FlowError as exc:
        _fail(exc, 1)
    if warning:
        click.secho(warning, fg="yellow", err=True)
    base = settings.public_base_url or f"http://{host}:{port}"
    for line in twilio_urls(base, app):
        click.echo(line)
    app.run(host, port, debug=False, use_reloader=False, threaded=True)


@main.command(name="reload")
@pass_cli_context
def reload_cmd(ctx: CliContext) -> None:
    """Publish new flow versions to running servers; broken files are refused (exit 1)."""
    from ivr.app import reload_from_config
    from ivr.config import ConfigError

    try:
        result = reload_from_config(_server_settings(ctx))
    except ConfigError as exc:
        _fail(exc, 2)
    for flow_id, version in result.published:
        click.echo(f"published {flow_id} {version}: new calls use it now")
    for flow_id, version in result.unchanged:
        click.echo(f"unchanged {flow_id} {version}")
    for checked in result.failed:
        for p in checked.problems:
            click.echo(format_standard(p, checked.source.lines) + "\n", err=True)
        click.echo(f"refused {checked.source.file}: the current version keeps serving",
                   err=True)
    sys.exit(1 if result.failed else 0)


@main.command(name="ops-user")
@click.argument("name")
@click.password_option("--password", help="The password (asked for when not given).")
@click.option("--store", "store_it", is_flag=True,
              help="Also save the user in Redis (ivr:ops:users): no config change needed.")
@pass_cli_context
def ops_user(ctx: CliContext, name: str, password: str, store_it: bool) -> None:
    """Make an ops console login: print the config line for NAME (or --store it in Redis)."""
    from ivr import ops_auth

    hashed = ops_auth.make_hash(password)
    if store_it:
        from ivr import store as store_mod
        from ivr.config import ConfigError, load_settings

        over = _server_settings(ctx)
        try:
            settings = load_settings(over.pop("config_path"), over)
        except ConfigError as exc:
            _fail(exc, 2)
        conn = store_mod.connect(settings)
        ops_auth.store_user(conn, name, hashed)
        click.echo(f"ops user {name!r} saved in Redis ({ops_auth.USERS_KEY})")
        return
    click.echo("# add to config.yaml (or IVR_OPS_USERS as JSON):")
    click.echo(f"ops_users:\n  {json.dumps(name)}: {json.dumps(hashed)}")
