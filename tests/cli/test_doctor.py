"""``ivr doctor``: each finding with its fix, exit 1 on errors, on a real embedded Redis
and a real rq worker's heartbeat."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main

ROOT = Path(__file__).resolve().parents[2]


def doctor(tmp_path: Path, config: str, *args: str, token: str = "") -> Result:
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    if not (tmp_path / "flows").exists():
        shutil.copytree(ROOT / "flows", tmp_path / "flows")
    return CliRunner().invoke(main, ["doctor", "-c", str(tmp_path / "config.yaml"), *args],
                              env={"TWILIO_AUTH_TOKEN": token, "IVR_TWILIO__AUTH_TOKEN": None})


def settings(tmp_path: Path, **extra: str) -> str:
    base = {"emergency_number": '"+14155550100"', "flows_dir": f'"{tmp_path / "flows"}"',
            "redis_db_path": f'"{tmp_path / "ivr.db"}"',
            "archive_path": f'"{tmp_path / "archive.db"}"'}
    base.update(extra)
    return "".join(f"{k}: {v}\n" for k, v in base.items())


def findings(out: Result) -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {}
    for f in json.loads(out.output):
        rows.setdefault(f["check"], []).append(f)
    return rows


def test_a_fresh_checkout_has_errors_each_with_its_fix(tmp_path: Path) -> None:
    out = doctor(tmp_path, settings(tmp_path, emergency_number='"+15551230000"'), "--quick")
    assert out.exit_code == 1, out.output
    for line in ("ERROR twilio     no Twilio auth token", "ERROR emergency  emergency_number "
                 "+15551230000 is a placeholder", "ERROR worker     no worker heartbeat",
                 "ok    redis      Redis", "warn  url        no public_base_url"):
        assert line in out.output, out.output
    assert out.output.count("fix: ") >= 5
    assert out.output.rstrip().endswith("3 error(s), 3 warning(s)")


def test_a_ready_deployment_passes(tmp_path: Path) -> None:
    cfg = settings(tmp_path, public_base_url='"https://ivr.example.com"')
    (tmp_path / "config.yaml").write_text(cfg, encoding="utf-8")
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    worker = subprocess.Popen([sys.executable, "-c", "from ivr.cli import main; main()",
                               "worker", "-c",
                               str(tmp_path / "config.yaml")], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # a real rq worker, registered with its heartbeat
            rows = findings(doctor(tmp_path, cfg, "--quick", "--format", "json"))
            if rows["worker"][0]["level"] == "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out = doctor(tmp_path, cfg, "--format", "json", token="tok")
        rows = findings(out)
    finally:
        worker.terminate()
        worker.wait(30)
    assert out.exit_code == 0, out.output
    assert "1 worker(s) alive" in rows["worker"][0]["message"]
    assert all(f["level"] == "ok" for f in rows["flows"]) and len(rows["flows"]) == 2
    assert "explores clean" in rows["flows"][0]["message"]


def test_a_broken_flow_and_an_http_url_are_errors(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "bad.yaml").write_text("flow: bad\nstart: nowhere\n", "utf-8")
    out = doctor(tmp_path, settings(tmp_path, public_base_url='"http://ivr.example.com"'),
                 "--quick", "--format", "json")
    rows = findings(out)
    assert out.exit_code == 1
    assert rows["flows"][0]["level"] == "error" and "bad.yaml" in rows["flows"][0]["message"]
    assert rows["url"][0]["message"] == "public_base_url http://ivr.example.com is not https"


def test_unusable_settings_are_reported_not_raised(tmp_path: Path) -> None:
    out = doctor(tmp_path, "call_ttl: soon\n")
    assert out.exit_code == 1 and "ERROR settings" in out.output
    assert "must be a whole number" in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("url,shown", [
    ("redis://user:s3cret@redis.internal:6380/0", "redis://user:***@redis.internal:6380/0"),
    ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0")])
def test_redis_passwords_are_not_printed(url: str, shown: str) -> None:
    from ivr.config import masked_url

    assert masked_url(url) == shown


def test_semantic_matching_is_checked_when_it_is_on(tmp_path: Path, model_cache: Path) -> None:
    off = findings(doctor(tmp_path, settings(tmp_path), "--quick", "--format", "json"))
    assert "semantic" not in off
    on = settings(tmp_path, semantic_matching="true", model_cache_dir=f'"{model_cache}"')
    rows = findings(doctor(tmp_path, on, "--quick", "--format", "json"))
    assert [r["level"] for r in rows["semantic"]] == ["ok"]
    assert "re-quantised" in rows["semantic"][0]["message"]
    assert "ms per utterance" in rows["semantic"][0]["message"]


def test_a_semantic_model_that_cannot_load_is_a_warning_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.semantic import fast

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(fast, "wheel_model", lambda: broken)
    on = settings(tmp_path, semantic_matching="true",
                  model_cache_dir=f'"{tmp_path / "cache"}"')
    rows = findings(doctor(tmp_path, on, "--quick", "--format", "json"))
    (row,) = rows["semantic"]
    assert row["level"] == "warning" and "lexical matcher" in row["message"]
    assert "ivr[semantic]" in row["fix"]


def test_a_settings_error_reads_as_a_sentence_not_a_record(tmp_path: Path) -> None:
    out = doctor(tmp_path, settings(tmp_path, emergency_number='"12"'), "--quick")
    assert out.exit_code == 1
    assert "Problem(" not in out.output
    assert "config.yaml:1:" in out.output and "not an E.164" in out.output
