"""Publishing rules: a new flow id only through "New flow" (audited); `ivr reload`
publishes only changed files, audited, and never silently over a console publish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from ivr.cli import main
from ivr.ops import versions as ov
from ivr.store.calls import Store
from tests.conftest import ROOT
from tests.ops.test_ops import FLOW, TEXT, current, edited, make_app, publish
from tests.ops.test_ops import alice as alice  # noqa: F401 - the fixtures
from tests.ops.test_ops import app as app  # noqa: F401
from tests.ops.test_ops import archive_path as archive_path  # noqa: F401
from tests.ops.test_ops import client as client  # noqa: F401

pytestmark = pytest.mark.redis
NEW = (ROOT / "ivr" / "ops" / "new-flow.yaml").read_text()


def test_publishing_to_an_unknown_flow_id_is_a_404(alice: tuple[FlaskClient, str],
                                                     app: Flask, redis_conn: redis.Redis) -> None:
    client, tok = alice
    text = TEXT.replace(f"flow: {FLOW}", "flow: sneaky", 1)
    r = publish(client, tok, text, "")
    assert r.status_code == 422 and "IVR210" in r.get_data(as_text=True)  # another id
    r = client.post("/ops/flows/sneaky/publish", data={"yaml": text, "based_on": "",
                                                      "csrf_token": tok})
    assert r.status_code == 404 and "New flow" in r.get_data(as_text=True)
    assert Store(redis_conn).current("sneaky") is None


def test_new_flow_is_created_checked_and_audited(alice: tuple[FlaskClient, str],
                                                 redis_conn: redis.Redis) -> None:
    client, tok = alice
    page = client.get("/ops/flows/new?flow_id=pharmacy").get_data(as_text=True)
    assert "flow: pharmacy" in page
    text = NEW.replace("flow: new-line", "flow: pharmacy", 1)
    r = client.post("/ops/flows/new", data={"flow_id": "pharmacy", "yaml": text,
                                            "note": "the pharmacy line", "csrf_token": tok})
    assert r.status_code == 302, r.get_data(as_text=True)[:400]
    store = Store(redis_conn)
    version = store.current("pharmacy")
    assert version and store.flow_text("pharmacy", version) == text
    [entry] = ov.audit(redis_conn, "pharmacy")
    assert (entry["action"], entry["who"], entry["from"], entry["to"], entry["note"]) == \
        ("create", "alice", "", version, "the pharmacy line")
    again = client.post("/ops/flows/new", data={"flow_id": "pharmacy", "yaml": text,
                                                "csrf_token": tok})
    assert again.status_code == 409 and "exists already" in again.get_data(as_text=True)


@pytest.mark.parametrize("flow_id, text, why", [
    ("Bad Id", NEW, "not a usable flow id"), ("new", NEW, "not a usable flow id"),
    ("other-id", NEW, "IVR210"), ("broken", "flow: broken\nstart: [\n", "error")])
def test_new_flow_refusals_keep_the_text(alice: tuple[FlaskClient, str], flow_id: str,
                                         text: str, why: str, redis_conn: redis.Redis) -> None:
    client, tok = alice
    r = client.post("/ops/flows/new", data={"flow_id": flow_id, "yaml": text,
                                            "csrf_token": tok})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and why in body, body[:500]
    assert "start:" in body  # the text is back in the form
    assert Store(redis_conn).current(flow_id) is None


# --- ivr reload -------------------------------------------------------------------------------

def reload(redis_url: str, flows: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["reload", "--redis-url", redis_url, "--flows-dir",
                                       str(flows), *extra],
                                env={"IVR_EMERGENCY_NUMBER": "+15559990000"})
    return result.exit_code, result.output


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    shutil.copy(ROOT / "flows" / f"{FLOW}.yaml", d)
    return d


def test_reload_publishes_only_changed_files_and_audits(redis_url: str, flows_dir: Path,
                                                        redis_conn: redis.Redis) -> None:
    app = make_app(redis_url, str(flows_dir.parent / "a.db"), flows_dir=str(flows_dir))
    first = current(app)
    code, out = reload(redis_url, flows_dir)
    assert code == 0 and f"unchanged {FLOW} {first}" in out
    (flows_dir / f"{FLOW}.yaml").write_text(edited())
    code, out = reload(redis_url, flows_dir)
    second = current(app)
    assert code == 0 and f"published {FLOW} {second}" in out and second != first
    entry = ov.audit(redis_conn, FLOW)[0]
    assert (entry["action"], entry["from"], entry["to"]) == ("reload", first, second)
    assert "+" in entry["diff"]


def test_reload_never_silently_overwrites_a_console_publish(
        redis_url: str, flows_dir: Path, redis_conn: redis.Redis) -> None:
    app = make_app(redis_url, str(flows_dir.parent / "a.db"), flows_dir=str(flows_dir))
    client = app.test_client()
    from tests.ops.test_ops import login

    tok = login(client)
    file_version = current(app)
    assert publish(client, tok, edited(n=7), file_version).status_code == 302
    console = current(app)
    # the file did not change since it was published: the console's version stays
    code, out = reload(redis_url, flows_dir)
    assert code == 0 and current(app) == console and f"kept {FLOW} {console}" in out
    # the file changed: refused, with who published what
    (flows_dir / f"{FLOW}.yaml").write_text(edited(n=3))
    code, out = reload(redis_url, flows_dir)
    assert code == 1 and current(app) == console
    assert "published from the console" in out and "alice" in out and "--force" in out
    code, out = reload(redis_url, flows_dir, "--force")
    assert code == 0 and current(app) not in (console, file_version)
    entry = ov.audit(redis_conn, FLOW)[0]
    assert entry["action"] == "reload" and "--force" in entry["note"]
    assert entry["from"] == console
