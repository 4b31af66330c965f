"""The flow graph with numbers (``/ops/flows/<id>/map.svg``): each state's YAML line, its
calls, zero-outs, "other" and hang-ups on the node, heat fills and arrow widths, the period,
and a drawing without numbers when the archive is down."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ivr.jobs.archive import Archive
from ivr.ops.graph_map import HEAT, heat
from tests.ops.test_ops import FLOW, TEXT, login, make_app
from tests.ops.test_trends import ENTRY, call, start

pytestmark = [pytest.mark.redis,
              pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")]
SVG = "{http://www.w3.org/2000/svg}"


def recent(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


def seed_recent(a: Archive) -> None:
    """Four calls 1.1 to 2 days ago (two zero out in main_menu, one hangs up in balance,
    one completes) and one 20 days ago (in 30d and all, not in 7d)."""
    for i in range(2):
        t = recent(1.1 + i / 10)  # not on the 24-hour edge (seconds are cut off)
        call(a, f"CAz{i}", t, "human", [*ENTRY, "human", "__end__"], [start(t), {
            "turn": 2, "from": "main_menu", "to": "human", "actions": ["dial"],
            "heard": {"kind": "digits", "digits": "0"}, "at": t}])
    call(a, "CAh", recent(1.5), "hangup", [*ENTRY, "balance", "__end__"])
    call(a, "CAc", recent(2), "completed", [*ENTRY, "balance", "goodbye", "__end__"])
    call(a, "CAold", recent(20), "completed", [*ENTRY, "balance", "goodbye", "__end__"])


def nodes(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-state", ""): g for g in root.iter(f"{SVG}g")
            if g.get("class") == "node" and g.get("data-state")}


def edge(svg: bytes, src: str, dst: str) -> ET.Element:
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") == "edge" and title is not None and \
                (title.text or "").startswith(f"{src} → {dst}:"):
            return g
    raise AssertionError(f"no edge {src} -> {dst}")


@pytest.fixture
def alice(redis_url: str, tmp_path: Path) -> FlaskClient:
    archive = str(tmp_path / "archive.db")
    seed_recent(Archive(archive))
    client = make_app(redis_url, archive).test_client()
    login(client)
    return client


def test_states_carry_their_line_and_numbers(alice: FlaskClient) -> None:
    resp = alice.get(f"/ops/flows/{FLOW}/map.svg?since=7d")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    got = nodes(resp.data)
    line = TEXT.splitlines().index("  main_menu:") + 1
    menu = got["main_menu"]
    assert menu.get("data-line") == str(line) and menu.get("tabindex") == "0"
    assert (menu.get("data-calls"), menu.get("data-zero-outs")) == ("4", "2")
    assert got["balance"].get("data-hangups") == "1"
    assert heat(2 / 4) == HEAT[-1][1]
    assert any(c.get("fill") == HEAT[-1][1] for c in menu)   # 50% zero out: the hottest
    assert any(c.get("fill") == HEAT[0][1] for c in got["balance"])
    title = menu.find(f"{SVG}title")
    assert title is not None and "4 calls through" in (title.text or "") and \
        "2 zero-outs (50%)" in (title.text or "")
    texts = [t.text for t in menu.iter(f"{SVG}text")]
    assert "4 calls · 2 zero-outs" in texts                   # the numbers on the node
    root = ET.fromstring(resp.data)
    assert (root.get("data-calls"), root.get("data-period")) == ("4", "7d")
    first = got["__start__"].find(f"{SVG}title")
    assert first is not None and first.text == "the call starts: 4 calls"
    assert got["human"].get("data-calls") == "2" and got["human"].get("data-line") is None
    widths = {p.get("stroke-width") for p in edge(resp.data, "main_menu", "balance")
              .iter(f"{SVG}path")}
    assert widths == {"4.0"}                                  # 2 of the 4 calls: half width
    assert edge(resp.data, "__start__", "welcome").get("data-calls") == "4"


def test_the_period_changes_the_numbers(alice: FlaskClient) -> None:
    month = nodes(alice.get(f"/ops/flows/{FLOW}/map.svg?since=30d").data)
    assert month["main_menu"].get("data-calls") == "5"
    day = nodes(alice.get(f"/ops/flows/{FLOW}/map.svg?since=24h").data)
    assert day["main_menu"].get("data-calls") == "0"
    bad = alice.get(f"/ops/flows/{FLOW}/map.svg?since=<script>")
    assert ET.fromstring(bad.data).get("data-period") == "7d"
    assert alice.get("/ops/flows/no-such-flow/map.svg").status_code == 404


def test_without_the_archive_the_graph_still_draws(redis_url: str, tmp_path: Path) -> None:
    client = make_app(redis_url, "postgresql://nobody@127.0.0.1:1/none",
                      archive_timeout=1).test_client()
    login(client)
    resp = client.get(f"/ops/flows/{FLOW}/map.svg")
    assert resp.status_code == 200
    root = ET.fromstring(resp.data)
    assert root.get("data-numbers") == "unavailable"
    assert nodes(resp.data)["main_menu"].get("data-line")


def test_flow_page_links_the_map_and_its_periods(alice: FlaskClient) -> None:
    page = alice.get(f"/ops/flows/{FLOW}?since=30d").get_data(as_text=True)
    assert f'data-src="/ops/flows/{FLOW}/map.svg"' in page and 'data-since="30d"' in page
    assert 'href="?since=24h#graph"' in page and "graph.js" in page
    page = alice.get(f"/ops/flows/{FLOW}?since=%22%3E%3Cb%3E").get_data(as_text=True)
    assert 'data-since="7d"' in page and "<b>" not in page


def test_numbers_are_kept_a_minute(redis_url: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.ops import recent

    app = make_app(redis_url, str(tmp_path / "a.db"))
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return len(made)

    with app.app_context():
        assert recent.remember(("k", "7d"), make) == 1
        assert recent.remember(("k", "7d"), make) == 1      # kept
        assert recent.remember(("k", "30d"), make) == 2     # another period: counted
        monkeypatch.setattr(recent, "TTL", 0.0)
        assert recent.remember(("k", "7d"), make) == 3      # older than TTL: counted again
