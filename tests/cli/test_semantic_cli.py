"""``--semantic/--lexical`` on ``ivr replay`` and ``ivr simulate``: QA and the terminal
decide menu speech the way a server with ``semantic_matching: true`` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from tests.conftest import ROOT

TAXES = """\
flow: card-services
name: a tax question that says "owe" is asked about, not routed to the balance
clock: "2026-11-20T14:05:00-05:00"
steps:
  - expect: {state: main_menu}
  - say: "how much do I owe in taxes"
  - expect: {state: main_menu, says: "It sounds like you'd like your balance"}
  - say: "no"
  - press: "0"
  - expect: {state: human, action: dial}
"""


@pytest.fixture
def env(model_cache: Path) -> dict[str, str]:
    return {"IVR_MODEL_CACHE_DIR": str(model_cache), "IVR_CONFIG": ""}


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[int, str]:
    out = CliRunner().invoke(main, [*args, "--flows-dir", str(ROOT / "flows")], input=stdin,
                             env=env)
    return out.exit_code, out.output


def test_replay_semantic_decides_as_the_server_would(tmp_path: Path,
                                                     env: dict[str, str]) -> None:
    path = tmp_path / "taxes.yaml"
    path.write_text(TAXES)
    code, output = run(["replay", "--semantic", str(path)], env)
    assert code == 0, output
    code, output = run(["replay", "--lexical", str(path)], env)
    assert code == 1 and "FAIL" in output  # the words alone route it to the balance


def test_replay_default_follows_the_config(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "taxes.yaml"
    path.write_text(TAXES)
    assert run(["replay", str(path)], env)[0] == 1
    assert run(["replay", str(path)], {**env, "IVR_SEMANTIC_MATCHING": "true"})[0] == 0


def test_simulate_semantic_asks_about_the_tax_question(env: dict[str, str]) -> None:
    code, output = run(["simulate", "card-services", "--semantic"], env,
                       "say how much do I owe in taxes\nhangup\n")
    assert code == 0, output
    assert "It sounds like you'd like your balance" in output


def test_a_model_that_cannot_load_is_a_usage_error_not_a_silent_fallback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.semantic import fast

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(fast, "wheel_model", lambda: broken)
    path = tmp_path / "taxes.yaml"
    path.write_text(TAXES)
    code, output = run(["replay", "--semantic", str(path)],
                       {"IVR_MODEL_CACHE_DIR": str(tmp_path / "cache"), "IVR_CONFIG": ""})
    assert code == 2
    assert "semantic matching cannot load its model" in output and "--lexical" in output
