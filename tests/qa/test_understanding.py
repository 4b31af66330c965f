"""QA sees understanding: `ivr replay --coverage` reports intent coverage per menu and, for
`say` steps that name what the caller meant, per-intent accuracy (right / confirmed / wrong)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ivr.cli import main
from ivr.qa.drivers import Observed
from ivr.qa.understanding import CONFIRM, NOTHING, decided
from tests.conftest import ROOT

CLOCK = '"2026-11-20T14:05:00-05:00"'


def transcript(tmp: Path, name: str, said: str, meant: str, *more: str) -> None:
    steps = [f'  - say: "{said}"', f"    meant: {meant}", *more, "  - hangup: true"]
    (tmp / f"{name}.yaml").write_text("\n".join(
        ["flow: card-services", f"name: {name}", f"clock: {CLOCK}", "steps:", *steps]) + "\n")


def coverage(*paths: Path | str) -> str:
    res = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"),
                                    "--coverage", *map(str, paths)])
    assert res.exit_code == 0, res.output
    return res.output


def test_intents_reached_per_menu_and_per_intent_accuracy(tmp_path: Path) -> None:
    transcript(tmp_path, "misplaced", "I think I misplaced my card", "lost_card")
    transcript(tmp_path, "found", "I found somebody's credit card on the sidewalk", "other")
    transcript(tmp_path, "hotspot", "activate my wireless hotspot", "other", '  - say: "no"')
    transcript(tmp_path, "balance", "what's my balance", "balance")
    transcript(tmp_path, "wrong", "what's my balance", "payment")       # QA's label says so
    out = coverage(tmp_path)
    assert "intents reached: 3/20 (15.0%) in 5 menu(s)" in out
    assert "main_menu:payment" in out.split("intents never reached:")[1]
    assert "understood (steps with meant:): 3/5 right, 0 confirmed first, 2 wrong" in out
    assert "lost_card      1/1 right, 0 confirmed" in out
    assert "other          1/2 right, 0 confirmed, wrong: confirm:activate 1" in out
    assert "payment        0/1 right, 0 confirmed, wrong: balance 1" in out


def test_shipped_transcripts_reach_every_intent_of_every_menu() -> None:
    out = coverage(ROOT / "tests" / "transcripts")
    assert "intents reached: 20/20 (100.0%) in 5 menu(s)" in out          # card-services
    assert "intents reached: 24/24 (100.0%) in 7 menu(s)" in out          # clinic
    assert "understood (steps with meant:)" in out


def test_a_decision_is_read_from_the_turns_edges() -> None:
    def turn(hops: tuple[str, ...] | None, pending: str = "") -> Observed:
        return Observed("x", [], [], hops=hops, pending=pending)

    assert decided("main_menu", turn(("main_menu>intent_balance>balance",))) == "balance"
    assert decided("main_menu", turn(("main_menu>human>human",))) == "human"
    assert decided("main_menu", turn((), "activate")) == f"{CONFIRM}activate"
    assert decided("main_menu", turn(())) == NOTHING
    # an intent edge of a later state in the same turn is not this menu's decision
    assert decided("main_menu", turn(("payment>intent_full>payment_confirmed",))) == NOTHING
