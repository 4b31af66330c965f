"""The console's caches are bounded: 100 simulator drafts do not grow memory without bound
(the draft LRU holds ``draft_cache_size``, the cache of published versions is untouched),
and drawn graphs stay within ``svg_cache_size``."""

from __future__ import annotations

import gc
import shutil
import tracemalloc
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ivr.flowlang import machine
from ivr.flowlang.model import version_of
from ivr.ops.flows import SVG_KEY
from ivr.ops.sim import DRAFTS_KEY
from ivr.server.context import store_of
from tests.ops.test_ops import TEXT, login, make_app, start_sim

pytestmark = pytest.mark.redis
DRAFTS = 100
KEEP = 8


def draft(n: int) -> str:
    return TEXT.replace("You can press 0 at any time", f"Press 0 at any time (draft {n})", 1)


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_a_hundred_simulator_drafts_stay_within_the_draft_cache(redis_url: str,
                                                                tmp_path: Path) -> None:
    app = make_app(redis_url, str(tmp_path / "a.db"), draft_cache_size=KEEP)
    client: FlaskClient = app.test_client()
    tok = login(client)
    published = len(machine._CACHE)
    tracemalloc.start()
    try:
        for n in range(2 * KEEP):  # fill the cache, and warm everything else up
            start_sim(client, tok, yaml=draft(n))
        full = _traced()
        for n in range(2 * KEEP, DRAFTS):
            start_sim(client, tok, yaml=draft(n))
        after = _traced()
    finally:
        tracemalloc.stop()
    drafts = app.extensions[DRAFTS_KEY]
    assert len(drafts) == KEEP and drafts.get(draft(DRAFTS - 1)) is not None
    assert drafts.get(draft(0)) is None  # evicted long ago
    assert len(machine._CACHE) == published  # drafts never crowd published versions out
    # Unbounded, 84 more drafts would add 84 drafts' worth; ``full`` holds at least KEEP.
    assert after - full < 2 * full // KEEP, (full, after)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_drawn_graphs_stay_within_the_svg_cache(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, str(tmp_path / "a.db"), svg_cache_size=2)
    client: FlaskClient = app.test_client()
    login(client)
    store = store_of(app)
    versions = []
    for n in range(4):
        text = draft(n)
        versions.append(version_of(text))
        store.put_flow("card-services", versions[-1], text)
    for v in versions:
        resp = client.get(f"/ops/flows/card-services/graph.svg?version={v}")
        assert resp.status_code == 200 and b"<svg" in resp.data
    svgs = app.extensions[SVG_KEY]
    assert svgs.keys() == [("card-services", v) for v in versions[-2:]]
