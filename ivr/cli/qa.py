"""Commands on QA transcripts: replay (and its --what-if report) and import."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from ivr.cli.base import SEMANTIC, CliContext, engine_options, job_settings, main, pass_cli_context
from ivr.flowlang.diagnostics import FlowError, expected_one_of, format_standard

if TYPE_CHECKING:
    from ivr.qa.whatif import Against


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
@click.option("--what-if", "what_if", is_flag=True,
              help="Assert nothing: report where the callers land, zero out, are asked to "
                   "confirm, and what landed in other (table; --json, --html FILE).")
@click.option("--json", "as_json", is_flag=True, help="With --what-if: the report as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --what-if: also write the report as an HTML page with bar charts.")
@click.option("--against", metavar="FLOW@VERSION|FILE",
              help="With --what-if: run the same calls on another version of the flow "
                   "(a flow file, or FLOW@VERSION from a flows/ folder beside the "
                   "transcripts or Redis) and list which callers move, and where.")
@SEMANTIC
@pass_cli_context
def replay(ctx: CliContext, paths: tuple[str, ...], jobs: int, junit: str | None,
           show_coverage: bool, fail_under: float | None, fail_edges: float | None, via: str,
           auth_token: str, max_steps: int, what_if: bool, as_json: bool,
           html_path: str | None, against: str | None, semantic: bool | None) -> None:
    """Replay QA transcripts (files or directories). Exit 0 all pass, 1 any fail, 2 usage."""
    from ivr.qa import replay as rp

    if not rp.transcript_files(paths):
        raise click.UsageError(f"no transcripts (*.yaml) in {', '.join(paths)}")
    if (as_json or html_path or against) and not what_if:
        raise click.UsageError("--json, --html and --against go with --what-if")
    if what_if and (junit or show_coverage or via or fail_under is not None
                    or fail_edges is not None):
        raise click.UsageError("--what-if asserts nothing: it takes no --junit, --coverage, "
                               "--fail-under* or --via (run ivr replay without it for those)")
    if what_if:
        _what_if(ctx, paths, jobs, as_json, html_path, against)
        return
    cache = "" if via else engine_options(ctx, semantic)[1]  # --via: the server decides
    opts = rp.Options((ctx.flows_dir or "flows",), max_steps, via, auth_token, cache)
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


def _what_if(ctx: CliContext, paths: tuple[str, ...], jobs: int, as_json: bool,
             html_path: str | None, against: str | None) -> None:
    """The what-if report; exit 1 when a transcript did not load or the engine failed."""
    from ivr.qa import replay as rp
    from ivr.qa import whatif, whatif_report

    other = _against(ctx, against, paths) if against else None
    run = whatif.run_paths(rp.transcript_files(paths), (ctx.flows_dir or "flows",), other,
                           jobs)
    if other is not None and not any(r.against for r in run.reports):
        raise click.UsageError(f"--against {against}: no transcript is for flow "
                               f"'{other.compiled().flow.id}'")
    click.echo(whatif_report.as_json(run) if as_json else whatif_report.table(run), nl=False)
    if as_json:
        click.echo()
    if html_path:
        with open(html_path, "w", encoding="utf-8") as fh:
            fh.write(whatif_report.html(run))
        click.echo(f"report written to {html_path}", err=as_json)
    bad = run.errors or any(c.error for r in run.reports for c in r.calls)
    sys.exit(1 if bad else 0)


def _against(ctx: CliContext, ref: str, paths: tuple[str, ...]) -> Against:
    """The flow version named by --against: a file, or FLOW@VERSION (flows/ folder beside
    the transcripts, else the versions Redis keeps). A flow with errors: exit 1."""
    from ivr.flowlang.catalog import flow_files
    from ivr.flowlang.model import version_of
    from ivr.qa.whatif import Against

    if os.path.isfile(ref):
        with open(ref, encoding="utf-8") as fh:
            return _checked(Against(fh.read(), ref, ref))
    flow_id, sep, version = ref.partition("@")
    if not sep or not flow_id or not version:
        raise click.BadParameter(f"'{ref}' is neither a flow file nor FLOW@VERSION",
                                 param_hint="--against")
    folders = [os.path.join(p if os.path.isdir(p) else os.path.dirname(p) or ".", "flows")
               for p in paths]
    for file in flow_files([f for f in folders if os.path.isdir(f)]):
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
        if version_of(text) == version:
            return _checked(Against(text, file, file))
    from ivr.cli.base import flow_sources

    stored = flow_sources(ctx, job_settings(ctx))(flow_id, version)
    if not stored:
        raise click.BadParameter(f"no version {version} of '{flow_id}' in a flows/ folder "
                                 "beside the transcripts, nor in Redis", param_hint="--against")
    return _checked(Against(stored, ref, "Redis"))


def _checked(against: Against) -> Against:
    """``against`` when its flow compiles; else its problems and exit 1."""
    try:
        against.compiled()
    except FlowError as exc:
        for p in exc.problems:
            click.echo(format_standard(p, against.text.splitlines()) + "\n", err=True)
        sys.exit(1)
    return against


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--flow", "flow_id", required=True, metavar="FLOW",
              help="The flow the callers' turns are replayed against (a flow id).")
@click.option("--out", "out_dir", default="imported", show_default=True,
              type=click.Path(file_okay=False), help="Directory for the transcripts.")
@click.option("--format", "fmt", type=click.Choice(["text", "webvtt", "srt", "twilio",
                                                    "amazon"]),
              help="The input format (default: from the extension, else the content).")
@click.option("--speaker", "speakers", multiple=True, metavar="LABEL=ROLE",
              help="Map a speaker label to caller, keys, system, agent or ignore "
                   "(repeatable), e.g. --speaker 'Rep=agent'.")
@click.option("--clock", metavar="ISO", help="Time of every call (fixes business hours); "
              "default: the recording's own start time, when it has one.")
@click.option("--person-from", type=click.FloatRange(0), metavar="SECONDS",
              help="The old system's lines from this offset on are a person's (the call "
                   "was taken over then).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@pass_cli_context
def import_cmd(ctx: CliContext, paths: tuple[str, ...], flow_id: str, out_dir: str,
               fmt: str | None, speakers: tuple[str, ...], clock: str | None,
               person_from: float | None, jobs: int) -> None:
    """Turn recorded call transcripts (files or directories) into QA transcripts.

    Formats: speaker-labelled text, WebVTT, SRT, Twilio Voice Intelligence sentences
    JSON, Amazon Transcribe Call Analytics JSON. Exit 1 when an input could not be read
    (the others are written), 2 on usage errors.
    """
    from ivr.qa import importers
    from ivr.qa.replay import catalog_for
    from ivr.qa.transcript import parse_clock

    flows = catalog_for((ctx.flows_dir or "flows",)).current
    if flow_id not in flows:
        raise click.BadParameter(f"no flow '{flow_id}' in {ctx.flows_dir or 'flows'}/: "
                                 + expected_one_of(flow_id, sorted(flows)), param_hint="--flow")
    if clock and parse_clock(clock, flows[flow_id].flow) is None:
        raise click.BadParameter(f"'{clock}' is not an ISO date and time", param_hint="--clock")
    try:
        who = importers.Speakers.parse(speakers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--speaker") from None
    if not list(importers.input_files(paths)):
        raise click.UsageError(f"no call transcripts (.txt .vtt .srt .json) in {', '.join(paths)}")
    opts = importers.Options(flow_id, who, clock or "", person_from, fmt or "")
    report = importers.import_paths(paths, out_dir, opts, jobs)
    for err in report.errors:
        click.echo(f"error: {err.render()}", err=True)
    click.echo(f"wrote {len(report.written)} transcript(s) to {out_dir}/ "
               f"(next: ivr replay --what-if {out_dir})")
    if report.errors:
        click.echo(f"{len(report.errors)} input(s) not imported", err=True)
    sys.exit(1 if report.errors else 0)
