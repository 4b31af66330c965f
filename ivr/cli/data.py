"""Commands that read the call archive: inbox and export."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ivr.cli.base import (
    ARCHIVE,
    CliContext,
    flow_sources,
    job_settings,
    main,
    open_archive,
    pass_cli_context,
    since_option,
)

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.flowlang.model import Flow


@main.command()
@click.option("--since", metavar="WHEN", help="Only newer items: 7d, 12h, 2w or an ISO date.")
@click.option("--flow", "flow_id", metavar="FLOW", help="Only this flow.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--top", "show_top", is_flag=True,
              help="Group what callers said by meaning, biggest first, each with a "
                   "suggested edit of the menu they fell through.")
@click.option("--by-spelling", is_flag=True,
              help="With --top: group by spelling only (no model), as without ivr[semantic].")
@click.option("--limit", type=click.IntRange(1), help="At most this many items (or groups).")
@ARCHIVE
@pass_cli_context
def inbox(ctx: CliContext, since: str | None, flow_id: str | None, fmt: str, show_top: bool,
          by_spelling: bool, limit: int | None, archive_path: str | None) -> None:
    """What callers said that no menu option matched ("other"), newest first."""
    from ivr.ops import inbox as ib
    from ivr.ops import inbox_groups

    settings = job_settings(ctx, archive_path=archive_path)
    items = open_archive(ctx, archive_path, settings).inbox(since_option(since), flow_id)
    if show_top:
        groups, note = inbox_groups.grouped([i for i in items if not i.get("handled")],
                                            current_flows(ctx, settings), limit,
                                            use_model=not by_spelling)
        click.echo(inbox_groups.render(groups, note, fmt))
    else:
        click.echo(ib.render_items(items[:limit], fmt))


def current_flows(ctx: CliContext, settings: Settings) -> Callable[[str], Flow | None]:
    """A flow id → its current version: published in Redis when a Redis URL is given
    (--redis-url, IVR_REDIS_URL, config), else the file in the flows directory."""
    from ivr.flowlang.catalog import check_file, check_text

    def from_redis(flow_id: str) -> Flow | None:
        from ivr.jobs.worker import connect_calls
        from ivr.store.calls import Store

        try:
            store = Store(connect_calls(ctx.redis_url, settings))
            version = store.current(flow_id)
            text = store.flow_text(flow_id, version) if version else None
        except Exception as exc:  # noqa: BLE001 - suggestions are optional
            click.echo(f"flow {flow_id}: not read from Redis ({exc})", err=True)
            return None
        return check_text(text, f"{flow_id}.yaml").flow if text else None

    def from_files(flow_id: str) -> Flow | None:
        path = Path(ctx.flows_dir or settings.flows_dir) / f"{flow_id}.yaml"
        return check_file(str(path)).flow if path.is_file() else None

    return from_redis if (ctx.redis_url or settings.redis_url) else from_files


@main.command("export")
@click.argument("sids", nargs=-1)
@click.option("--since", metavar="WHEN", help="Calls that ended since: 7d, 12h or an ISO date.")
@click.option("--flow", "flow_id", metavar="FLOW", help="Only this flow's calls.")
@click.option("--out", "out_dir", default="exported", show_default=True,
              type=click.Path(file_okay=False), help="Directory for the transcripts.")
@ARCHIVE
@pass_cli_context
def export_cmd(ctx: CliContext, sids: tuple[str, ...], since: str | None, flow_id: str | None,
               out_dir: str, archive_path: str | None) -> None:
    """Turn archived calls (SIDS, or --since/--flow) into replayable QA transcripts."""
    from ivr.qa import export

    if not sids and not since and not flow_id:
        raise click.UsageError("name CallSids, or select calls with --since and/or --flow")
    when = since_option(since)
    settings = job_settings(ctx, archive_path=archive_path)
    archive = open_archive(ctx, archive_path, settings)
    wanted = list(sids) or archive.call_sids(when, flow_id)
    calls = [c for c in map(archive.call, wanted) if c is not None and c.get("turns")]
    missing = sorted(set(wanted) - {str(c["sid"]) for c in calls})
    paths = export.write(calls, out_dir, flow_sources(ctx, settings))
    click.echo(f"wrote {len(paths)} transcript(s) to {out_dir}/ (replay: ivr replay {out_dir})")
    if missing:
        click.echo("not in the archive (or no turns): " + ", ".join(missing), err=True)
    sys.exit(1 if missing else 0)
