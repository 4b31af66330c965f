"""Options every command shares: ``-c`` before or after the command, and one rule for
unknown ``IVR_*`` variables (a usage error, exit 2, naming the variable) in every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_config_before_the_command_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "other.yaml"
    bad.write_text('emergency_number: "+15551230000"\nmax_body: 0\n', encoding="utf-8")
    for args in (["-c", str(bad), "jobs", "list"], ["jobs", "list", "-c", str(bad)]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 2, (args, out.output)
        assert f"{bad}:2:1" in out.output and "max_body must be positive" in out.output


@pytest.mark.parametrize("args", [
    ["validate", str(ROOT / "flows")], ["schema"], ["graph", "card-services"],
    ["simulate", "card-services"], ["replay", str(ROOT / "tests" / "transcripts")],
    ["inbox"], ["jobs", "list"], ["reload"]])
def test_an_unknown_ivr_variable_stops_every_command(args: list[str]) -> None:
    out = CliRunner(env={"IVR_TWILIO__AUTH_TOKN": "x"}).invoke(main, args, input="")
    assert out.exit_code == 2, out.output
    assert "unknown IVR_TWILIO__AUTH_TOKN (setting 'twilio.auth_tokn')" in out.output
    assert "did you mean 'auth_token'?" in out.output


def test_help_still_works_with_a_bad_variable() -> None:
    out = CliRunner(env={"IVR_NOPE": "1"}).invoke(main, ["validate", "--help"])
    assert out.exit_code == 0 and "Usage:" in out.output
