"""Commands that run the system: serve, reload, worker, jobs, ops-user."""

from __future__ import annotations

import json
import sys

import click

from ivr.cli.base import (
    ARCHIVE,
    CliContext,
    fail,
    job_settings,
    main,
    pass_cli_context,
    server_settings,
)
from ivr.flowlang.diagnostics import format_standard


@main.command()
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: generated).")
@ARCHIVE
@pass_cli_context
def worker(ctx: CliContext, burst: bool, name: str | None, archive_path: str | None) -> None:
    """Run an RQ worker on the ivr queues (re-enqueues spooled jobs first; SIGTERM-safe)."""
    from ivr.jobs import worker as rq_worker
    from ivr.jobs.archive import ArchiveError
    from ivr.store.connection import separate_jobs

    settings = job_settings(ctx, archive_path=archive_path, serving=True)
    conn = rq_worker.connect(ctx.redis_url, settings)
    calls = rq_worker.connect_calls(ctx.redis_url, settings) \
        if separate_jobs(settings) else None
    try:
        rq_worker.run_worker(conn, settings, burst=burst, name=name, calls=calls)
    except ArchiveError as exc:  # unreachable or not migrated: its jobs wait in Redis
        raise click.ClickException(f"the worker did not start: {exc}") from exc
    except ValueError as exc:  # rq: the name is registered (alive, or killed < ttl ago)
        if "active worker named" not in str(exc):
            raise
        raise click.ClickException(
            f"the worker did not start: a worker named {name!r} is registered in Redis (it "
            "runs, or was killed without a goodbye less than 7 minutes ago): give another "
            "--name, or none (a unique one is generated)") from exc


@main.group(name="jobs")
def jobs_group() -> None:
    """Inspect and retry background jobs (archive, inbox, callbacks, ops notices)."""


@jobs_group.command(name="list")
@pass_cli_context
def jobs_list(ctx: CliContext) -> None:
    """Queued/started/scheduled/failed counts, then each failed job and its error."""
    from ivr.jobs import worker as rq_worker

    conn = rq_worker.connect(ctx.redis_url, job_settings(ctx))
    for queue, counts in rq_worker.stats(conn).items():
        click.echo(f"{queue}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for f in rq_worker.failed(conn):
        click.echo(f"failed {f['id']} ({f['func']}): {f['error']}")


@jobs_group.command(name="retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Requeue every failed job.")
@click.option("--release-callbacks", is_flag=True,
              help="Also release the unconfirmed claims of these callback jobs so they ring "
              "(only once Twilio's call log shows they did not).")
@pass_cli_context
def jobs_retry(ctx: CliContext, job_ids: tuple[str, ...], retry_all: bool,
               release_callbacks: bool) -> None:
    """Requeue failed jobs: the JOB_IDS given, or --all. Exit 1 if an id is not failed."""
    from ivr.jobs import worker as rq_worker

    if bool(job_ids) == retry_all:
        raise click.UsageError("give failed job ids or --all (not both)")
    conn = rq_worker.connect(ctx.redis_url, job_settings(ctx))
    done = rq_worker.retry_failed(conn, None if retry_all else job_ids, release_callbacks)
    click.echo(f"requeued {len(done)} job(s)" + (": " + ", ".join(done) if done else ""))
    missing = sorted(set(job_ids) - set(done))
    if missing:
        click.echo("not in the failed registry: " + ", ".join(missing), err=True)
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--public-url", default=None, metavar="URL",
              help="The https URL your tunnel gives (e.g. https://abc.ngrok-free.app): "
                   "printed for Twilio and used for signatures (setting public_base_url).")
@pass_cli_context
def serve(ctx: CliContext, host: str, port: int, public_url: str | None) -> None:
    """Run the development call server (embedded Redis unless --redis-url)."""
    from ivr.app import dev_app, twilio_urls
    from ivr.config import ConfigError
    from ivr.flowlang.diagnostics import FlowError
    from ivr.jobs.archive import ArchiveError
    from ivr.server import meaning

    over = server_settings(ctx)
    if public_url:
        if not public_url.startswith(("https://", "http://")):
            raise click.BadParameter(f"'{public_url}' is not a URL: give the tunnel's "
                                     "https://... address", param_hint="--public-url")
        over["public_base_url"] = public_url.rstrip("/")
    try:
        app, settings, warning = dev_app(over)
    except ConfigError as exc:
        fail(exc, 2)
    except FlowError as exc:
        fail(exc, 1)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    if warning:
        click.secho(warning, fg="yellow", err=True)
    base = settings.public_base_url or f"http://{host}:{port}"
    for line in twilio_urls(base, app):
        click.echo(line)
    semantic = meaning.status(app, wait=15.0)
    if semantic:
        click.echo(semantic)
    if not settings.public_base_url:
        click.echo("Twilio needs a public https URL: run a tunnel to this port (e.g. "
                   f"`ngrok http {port}`) and restart with --public-url https://<its host>.")
    app.run(host, port, debug=False, use_reloader=False, threaded=True)


@main.command(name="reload")
@click.option("--force", is_flag=True,
              help="Publish changed files even over a newer console publish (audited).")
@pass_cli_context
def reload_cmd(ctx: CliContext, force: bool) -> None:
    """Publish the flow files changed since the last reload to running servers (audited).

    Broken files are refused, and so is a changed file whose flow was published from the
    console since (exit 1 for either; --force overrides the second)."""
    from ivr.config import ConfigError
    from ivr.server.registry import reload_from_config

    try:
        result = reload_from_config({**server_settings(ctx), "force": force})
    except ConfigError as exc:
        fail(exc, 2)
    for flow_id, version in result.published:
        click.echo(f"published {flow_id} {version}: new calls use it now")
    for flow_id, version in result.unchanged:
        click.echo(f"unchanged {flow_id} {version}")
    for flow_id, version, current in result.kept:
        click.echo(f"kept {flow_id} {current} (published from the console; the file is "
                   f"still {version}, as at the last reload)")
    for flow_id, version, current, who in result.overwrite:
        click.echo(f"refused {flow_id} {version}: version {current} was published from the "
                   f"console since the last reload ({who}), and this would overwrite it. "
                   "Download it from the console into flows/ and merge, or run ivr reload "
                   "--force", err=True)
    for checked in result.failed:
        for p in checked.problems:
            click.echo(format_standard(p, checked.source.lines) + "\n", err=True)
        click.echo(f"refused {checked.source.file}: the current version keeps serving",
                   err=True)
    sys.exit(1 if result.failed or result.overwrite else 0)


@main.command(name="ops-user")
@click.argument("name")
@click.password_option("--password", help="The password (asked for when not given).")
@click.option("--store", "store_it", is_flag=True,
              help="Also save the user in Redis (ivr:ops:users): no config change needed.")
@click.option("--role", type=click.Choice(["ops", "agent", "viewer"]), default="ops",
              show_default=True, help="ops: publish, roll back, new flows; agent: also "
              "reads callers' stories (agent pages, caller timeline); viewer: read-only, "
              "no caller stories.")
@pass_cli_context
def ops_user(ctx: CliContext, name: str, password: str, store_it: bool, role: str) -> None:
    """Make an ops console login: print the config line for NAME (or --store it in Redis).

    The password needs 12 characters or more and may not be a common one."""
    from ivr.ops import auth as ops_auth

    problem = ops_auth.password_problem(name, password)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    hashed = ops_auth.make_hash(password, role)
    if store_it:
        from ivr.config import ConfigError, load_settings
        from ivr.store.connection import connect

        over = server_settings(ctx)
        try:
            settings = load_settings(over.pop("config_path"), over)
        except ConfigError as exc:
            fail(exc, 2)
        conn = connect(settings)
        ops_auth.store_user(conn, name, hashed)
        click.echo(f"ops user {name!r} ({role}) saved in Redis ({ops_auth.USERS_KEY})")
        return
    click.echo("# add to config.yaml (or IVR_OPS_USERS as JSON):")
    click.echo(f"ops_users:\n  {json.dumps(name)}: {json.dumps(hashed)}")
