"""Commands on flow files: validate, graph, schema, simulate (replay and import: cli/qa)."""

from __future__ import annotations

import json
import os
import sys

import click

from ivr.cli.base import SEMANTIC, CliContext, engine_options, main, pass_cli_context
from ivr.flowlang.catalog import Checked, check_file, check_files, flow_files
from ivr.flowlang.diagnostics import (
    Problem,
    errors_in,
    format_github,
    format_parsable,
    format_standard,
    to_json,
)
from ivr.flowlang.phone import is_e164
from ivr.qa.transcript_schema import DEFAULT_CALLER


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["standard", "parsable", "github", "json"]),
              default="standard", show_default=True, help="How to print problems.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures.")
@click.option("--color/--no-color", default=None, help="Colour (default: when on a terminal).")
@click.option("--standard", "standards", multiple=True, type=click.Choice(["gethuman"]),
              help="Also check a caller-experience standard (GetHuman R1-R9: GH1-GH9).")
@click.option("--explore", is_flag=True,
              help="Also run the engine over every reachable configuration of each valid "
                   "flow and check the promise (IVR601-IVR608), with counterexamples.")
@click.option("--explore-limit", default=100_000, show_default=True, type=click.IntRange(1),
              metavar="N", help="With --explore: stop (IVR607) after N configurations.")
@click.option("--counterexamples", "cx_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --explore: write each counterexample transcript into DIR.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, color: bool | None,
             standards: tuple[str, ...], explore: bool, explore_limit: int,
             cx_dir: str | None) -> None:
    """Check flow files (default: flows/). Exit 0 clean, 1 problems, 2 usage."""
    files = list(flow_files(paths or ("flows",)))
    if not files:
        raise click.UsageError(f"no flow files (*.yaml) in {', '.join(paths or ('flows',))}")
    color = sys.stdout.isatty() if color is None else color
    all_problems: list[Problem] = []
    counterexamples: dict[int, str] = {}
    for checked in check_files(files):
        if "gethuman" in standards and checked.flow is not None:
            from ivr.flowlang.checks.gethuman import check_gethuman

            checked.problems += check_gethuman(checked.flow, checked.source)
        all_problems += checked.problems
        for p in checked.problems:
            _show(p, checked.source.lines, fmt, color)
        if explore and checked.flow is not None and checked.ok():
            for p, text in _explore(checked, fmt, color, explore_limit, cx_dir):
                counterexamples[len(all_problems)] = text
                all_problems.append(p)
    if fmt == "json":
        rows = json.loads(to_json(all_problems))
        for i, text in counterexamples.items():
            rows[i]["counterexample"] = text
        click.echo(json.dumps(rows, indent=2))
    failing = errors_in(all_problems, strict)
    if fmt == "standard":
        n_err = len(errors_in(all_problems))
        click.echo(f"{len(files)} file(s) checked: {n_err} error(s), "
                   f"{len(all_problems) - n_err} warning(s)", err=bool(failing))
    sys.exit(1 if failing else 0)


def _show(p: Problem, lines: list[str] | None, fmt: str, color: bool) -> None:
    if fmt == "standard":
        click.echo(format_standard(p, lines, color) + "\n", color=color)
    elif fmt == "parsable":
        click.echo(format_parsable(p))
    elif fmt == "github":
        click.echo(format_github(p))


def _explore(checked: Checked, fmt: str, color: bool, limit: int,
             cx_dir: str | None) -> list[tuple[Problem, str]]:
    """Explore one valid flow: print its problems, counterexamples and figures."""
    from ivr.flowlang.machine import compiled
    from ivr.qa.explore import explore

    assert checked.flow is not None
    report = explore(compiled(checked.flow), checked.source, limit=limit)
    out: list[tuple[Problem, str]] = []
    for f in report.findings:
        _show(f.problem, checked.source.lines, fmt, color)
        if fmt == "standard" and f.transcript:
            click.echo("    " + f.transcript.rstrip("\n").replace("\n", "\n    ") + "\n")
        if cx_dir and f.transcript:
            os.makedirs(cx_dir, exist_ok=True)
            name = f"{report.flow}-{f.problem.code}-{len(out) + 1}.yaml"
            with open(os.path.join(cx_dir, name), "w", encoding="utf-8") as fh:
                fh.write(f.transcript)
        out.append((f.problem, f.transcript))
    click.echo("explored " + report.summary(checked.source.file), err=fmt != "standard")
    return out


@main.command()
@click.argument("flow")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid (renders on GitHub) or Graphviz DOT.")
@pass_cli_context
def graph(ctx: CliContext, flow: str, fmt: str) -> None:
    """Draw FLOW (a flow id in --flows-dir/flows/, or a file). Exit 1 if it is invalid."""
    from ivr.flowlang.graph import find_flow, render

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
    from ivr.flowlang.schema import FLOW_SCHEMA
    from ivr.qa.transcript import transcript_schema

    click.echo(json.dumps(transcript_schema() if transcript else FLOW_SCHEMA, indent=2))


def _echo(text: str) -> None:
    click.echo(text)


def _prompt() -> None:
    click.echo("> ", nl=False)


@main.command()
@click.argument("flow")
@click.option("--clock", metavar="ISO", help="Time of the call, e.g. 2026-11-22T14:05:00-05:00.")
@click.option("--record", "record_path", type=click.Path(dir_okay=False),
              help="Write the call as a transcript (replay it with ivr replay).")
@click.option("--caller", default=DEFAULT_CALLER, show_default=True, metavar="NUMBER",
              help="The number the call comes from (E.164), or 'anonymous' (withheld).")
@SEMANTIC
@pass_cli_context
def simulate(ctx: CliContext, flow: str, clock: str | None, record_path: str | None,
             caller: str, semantic: bool | None) -> None:
    """Call FLOW (an id in flows/, or a file) in the terminal. Type help during the call."""
    from ivr.flowlang.diagnostics import FlowError
    from ivr.qa.simulate import Session, open_flow, run_console
    from ivr.qa.transcript import parse_clock

    try:
        c = open_flow(flow, ctx.flows_dir or "flows")
    except LookupError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    except FlowError as exc:
        for p in exc.problems:  # the caret view, as ivr validate and ivr graph show it
            click.echo(format_standard(p, _lines_of(p.file)) + "\n", err=True)
        sys.exit(1)
    when = parse_clock(clock, c.flow) if clock else None
    if clock and when is None:
        raise click.BadParameter(f"'{clock}' is not an ISO date and time", param_hint="--clock")
    if caller != "anonymous" and not is_e164(caller):
        raise click.BadParameter(f"'{caller}' is not an E.164 number (e.g. +12125550100) or "
                                 "'anonymous'", param_hint="--caller")
    options, _ = engine_options(ctx, semantic)
    session = Session(c, when, "" if caller == "anonymous" else caller, options)
    stdin = sys.stdin  # CliRunner swaps it in tests; get_text_stream is deprecated (click 8.5)
    run_console(session, stdin, _echo, _prompt if stdin.isatty() else None)
    if record_path:
        with open(record_path, "w", encoding="utf-8") as fh:
            fh.write(session.transcript())
        click.echo(f"transcript written to {record_path}")


def _lines_of(path: str) -> list[str] | None:
    """The lines of a flow file, for the caret view (None when it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
