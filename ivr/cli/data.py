"""Commands that read the call archive: inbox and export."""

from __future__ import annotations

import sys

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


@main.command()
@click.option("--since", metavar="WHEN", help="Only newer items: 7d, 12h, 2w or an ISO date.")
@click.option("--flow", "flow_id", metavar="FLOW", help="Only this flow.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--top", "show_top", is_flag=True, help="Group similar utterances, biggest first.")
@click.option("--limit", type=click.IntRange(1), help="At most this many items (or groups).")
@ARCHIVE
@pass_cli_context
def inbox(ctx: CliContext, since: str | None, flow_id: str | None, fmt: str, show_top: bool,
          limit: int | None, archive_path: str | None) -> None:
    """What callers said that no menu option matched ("other"), newest first."""
    from ivr.ops import inbox as ib

    items = open_archive(ctx, archive_path).inbox(since_option(since), flow_id)
    if show_top:
        click.echo(ib.render_top(ib.top(ib.needs(i) for i in items)[:limit], fmt))
    else:
        click.echo(ib.render_items(items[:limit], fmt))


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
