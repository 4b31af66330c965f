"""``ivr replay --what-if``: where callers land, zero out, are asked to confirm, what lands
in other; the same calls on another version; the HTML report (escaped, looked at in
Chromium)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.qa import whatif, whatif_report
from ivr.qa.replay import catalog_for
from ivr.qa.transcript import parse_transcript
from tests.qa.test_import import found_card_flow

ROOT = Path(__file__).parents[2]
FLOWS = (str(ROOT / "flows"),)
OPEN = "2026-11-20T14:05:00-05:00"     # a Friday afternoon: card-services is open
CLOSED = "2026-11-22T14:05:00-05:00"   # a Sunday
CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")


def ivr(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def landing(steps: str, clock: str = OPEN, flow: str = "card-services") -> whatif.Landing:
    text = f'flow: {flow}\nclock: "{clock}"\nsteps:\n{steps}'
    loaded = parse_transcript(text, "t.yaml", {k: c.flow for k, c in catalog_for(
        FLOWS).current.items()})
    assert loaded.transcript is not None, loaded.problems
    c = catalog_for(FLOWS).current[flow]
    return whatif.walk(c, loaded.transcript)


def test_landing_is_the_first_menu_choice() -> None:
    got = landing('  - say: "my card was stolen"\n  - press: "1234"\n')
    assert (got.landed, got.at, got.outcome) == ("lost_card", "main_menu", "human")
    assert got.choices == ["main_menu: lost_card"] and not got.zeroed


def test_zero_out_before_any_choice_is_a_person_and_says_where() -> None:
    got = landing('  - press: "0"\n')
    assert (got.landed, got.at, got.zeroed) == ("person", "main_menu", "main_menu")
    later = landing('  - press: "2"\n  - say: "agent"\n')
    assert (later.landed, later.zeroed) == ("balance", "balance")


def test_confirmation_other_voicemail_hangup_and_unfinished() -> None:
    unsure = landing('  - say: "my balance and statement"\n    confidence: 0.1\n'
                     '  - say: "yes"\n')
    assert unsure.confirm == "main_menu: balance" and unsure.landed == "balance"
    other = landing('  - say: "I found somebody\'s card on the street"\n')
    assert (other.landed, other.other_said) == ("other", "I found somebody's card on the street")
    keyed = landing('  - press: "9"\n  - say: "I want to change my address"\n')
    assert (keyed.landed, keyed.other_said) == ("other", "I want to change my address")
    message = landing('  - press: "2"\n  - record: {seconds: 12}\n', CLOSED)
    assert message.landed == "message" and message.outcome == "voicemail"
    gone = landing("  - hangup: true\n")
    assert (gone.landed, gone.outcome) == ("hang-up", "hangup")
    waiting = landing('  - say: "hmm"\n')
    assert (waiting.landed, waiting.at, waiting.outcome) == (
        "unfinished", "main_menu", "(in main_menu)")


def test_steps_after_a_person_is_rung_are_not_played() -> None:
    got = landing('  - press: "0"\n  - say: "hello?"\n  - say: "hello???"\n')
    assert got.steps == 2  # the start and the 0: the rest was said to the old system


def test_report_over_shipped_transcripts_one_or_two_processes() -> None:
    files = sorted(str(p) for p in (ROOT / "tests" / "transcripts" / "card-services")
                   .glob("*.yaml"))
    one = whatif.run_paths(files, FLOWS)
    two = whatif.run_paths(files, FLOWS, jobs=2)
    assert whatif_report.as_json(one) == whatif_report.as_json(two)
    report = one.reports[0]
    assert len(report.calls) == len(files) and not one.errors
    # understood-hotspot.yaml: "activate my wireless hotspot" is asked about, not routed
    assert report.zeroed_total >= 10 and report.confirm == {"main_menu: balance": 1,
                                                            "main_menu: activate": 1}
    table = whatif_report.table(one)
    assert "what-if: card-services" in table and "zeroed out: " in table


def test_against_a_pinned_version_by_flow_at_version(tmp_path: Path) -> None:
    """--against FLOW@VERSION finds the version in a flows/ folder beside the transcripts
    (as ivr export writes them): here the current flow, so nobody moves."""
    shutil.copytree(ROOT / "tests" / "transcripts" / "card-services", tmp_path / "calls")
    (tmp_path / "calls" / "flows").mkdir()
    version = catalog_for(FLOWS).current["card-services"].flow.version
    shutil.copy(ROOT / "flows" / "card-services.yaml",
                tmp_path / "calls" / "flows" / f"card-services@{version}.yaml")
    res = ivr("replay", "--what-if", "--json", str(tmp_path / "calls"), "--against",
              f"card-services@{version}")
    assert res.exit_code == 0, res.output
    flow = json.loads(res.output)["flows"][0]
    assert flow["against"]["moves"] == [] and flow["against"]["version"] == version
    res = ivr("replay", "--what-if", str(tmp_path / "calls"), "--against", "card-services@0000",
              "--redis-url", "redis://127.0.0.1:1/0")  # nothing listens there: not in Redis
    assert res.exit_code == 2 and "no version 0000" in res.output


def test_bad_against_and_unloadable_transcripts(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("flow: card-services\nstart: nowhere\nstates: {}\n")
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "a.yaml").write_text('flow: card-services\nsteps:\n  - press: "0"\n')
    res = ivr("replay", "--what-if", str(calls), "--against", str(broken))
    assert res.exit_code == 1 and "Traceback" not in res.output
    (calls / "b.yaml").write_text("flow: card-servics\nsteps: []\n")
    res = ivr("replay", "--what-if", str(calls))
    assert res.exit_code == 1
    assert "IVR505" in res.output and "what-if: card-services" in res.output


def test_html_escapes_what_callers_said(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "x.yaml").write_text(
        f'flow: card-services\nclock: "{OPEN}"\nsteps:\n'
        '  - say: "<script>alert(1)</script> I found a card & kept it"\n')
    page = tmp_path / "r.html"
    res = ivr("replay", "--what-if", str(calls), "--html", str(page))
    assert res.exit_code == 0, res.output
    html = page.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp; kept it" in html


def test_html_report_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    out = tmp_path / "imported"
    res = ivr("import", str(Path(__file__).parent / "imports"), "--flow", "card-services",
              "--out", str(out), "--clock", OPEN, "--speaker", "AGENT=system",
              "--person-from", "30")
    assert res.exit_code == 0, res.output
    page_file, fixed = tmp_path / "report.html", tmp_path / "card-services.yaml"
    fixed.write_text(found_card_flow())
    assert ivr("replay", "--what-if", str(out), "--html", str(page_file), "--against",
               str(fixed)).exit_code == 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(page_file.as_uri())
            bars = page.locator("section.flow table.bars").first.locator("td.bar div")
            widths = [b.bounding_box()["width"] for b in bars.all()]
            assert widths and max(widths) > 100 and min(widths) > 0
            other_tile = page.locator(".tile", has_text="landed in “other”")
            assert other_tile.locator("b").inner_text() == "2"
            assert "2 of 5" in page.locator("text=calls land somewhere else").inner_text()
            shots = Path(os.environ.get("OPS_SCREENSHOTS") or tmp_path)
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "whatif-report.png"), full_page=True)
        finally:
            browser.close()
