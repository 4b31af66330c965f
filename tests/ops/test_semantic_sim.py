"""The console's simulator decides menu speech as the server's calls do: with
``semantic_matching: true`` it uses the same meaning guard (the real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.server import meaning
from tests.ops.test_ops import login, make_app, start_sim

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("on", [False, True])
def test_the_simulator_asks_about_a_tax_question_only_when_the_server_would(
        redis_url: str, tmp_path: Path, model_cache: Path, on: bool) -> None:
    app = make_app(redis_url, str(tmp_path / "archive.db"), semantic_matching=on,
                   model_cache_dir=str(model_cache))
    if on:
        assert app.extensions[meaning.KEY].ready.wait(60)
    client = app.test_client()
    tok = login(client)
    url = start_sim(client, tok)
    client.post(url + "/send", data={"say": "how much do I owe in taxes", "csrf_token": tok})
    page = client.get(url).get_data(as_text=True)
    asked = "It sounds like you&#39;d like your balance" in page or \
        "It sounds like you'd like your balance" in page
    assert asked is on
    assert ("account PIN" in page) is not on
