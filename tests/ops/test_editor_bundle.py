"""The flow editor's build (web/ → ivr/ops/static/ops/editor.js) and its schema endpoint.

The bundle is committed so ``pip install`` needs no node; these tests hold it to what the
lockfile says: every direct dependency pinned to one exact version that the lockfile
resolves (with its integrity hash), the bundle small and self-contained, and, where node
and ``web/node_modules`` (``npm ci``) are present, byte-identical to a fresh build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from ivr.flowlang.schema import FLOW_SCHEMA
from tests.conftest import ROOT
from tests.ops.test_ops import login, make_app

WEB = ROOT / "web"
BUNDLE = ROOT / "ivr" / "ops" / "static" / "ops" / "editor.js"
MAX_BUNDLE = 420 * 1024
"""CodeMirror's view alone is ~190 KiB minified; the whole editor is ~407 KiB."""
EXACT = re.compile(r"^\d+\.\d+\.\d+$")
NEEDED = {"codemirror", "@codemirror/lang-yaml", "@codemirror/lint",
          "@codemirror/autocomplete", "esbuild"}


def package() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((WEB / "package.json").read_text())
    return data


def test_every_direct_dependency_is_pinned_exactly_in_the_lockfile() -> None:
    pkg = package()
    direct = {**pkg["dependencies"], **pkg["devDependencies"]}
    assert NEEDED <= set(direct) and "esbuild" in pkg["devDependencies"]
    loose = {name: v for name, v in direct.items() if not EXACT.match(v)}
    assert loose == {}, f"pin exact versions (no ^ or ~): {loose}"
    lock = json.loads((WEB / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root["dependencies"] == pkg["dependencies"]
    assert root["devDependencies"] == pkg["devDependencies"]
    for name, version in direct.items():
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["version"] == version, name
        assert entry["integrity"].startswith("sha512-"), name
    print(f"\nweb/: {len(direct)} direct dependencies pinned, "
          f"{len(lock['packages']) - 1} packages locked")


def test_the_bundle_is_committed_small_and_self_contained() -> None:
    assert BUNDLE.is_file(), "build it: cd web && npm ci && npm run build"
    data = BUNDLE.read_bytes()
    print(f"\neditor.js: {len(data) / 1024:.1f} KiB")
    assert len(data) < MAX_BUNDLE
    text = data.decode("utf-8")
    assert text.startswith("(()=>{") and "cspNonce" in text  # esbuild's IIFE of CodeMirror
    external = set(re.findall(r"https?://[^\"'\s)]+", text)) - {"http://www.w3.org/2000/svg"}
    assert external == set() and "import(" not in text  # nothing fetched from elsewhere
    assert "node_modules/" in (ROOT / ".gitignore").read_text()


def test_the_bundle_is_what_the_lockfile_builds(tmp_path: Path) -> None:
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    if not shutil.which("node") or not esbuild.exists():
        pytest.skip("no node or web/node_modules (cd web && npm ci) to rebuild with")
    script = package()["scripts"]["build"]
    out = tmp_path / "editor.js"
    args = [a for a in script.split() if not a.startswith("--outfile=")][1:]
    subprocess.run([str(esbuild), *args, f"--outfile={out}"], cwd=WEB, check=True,
                   capture_output=True, timeout=120)
    assert out.read_bytes() == BUNDLE.read_bytes(), "rebuild: cd web && npm run build"


@pytest.mark.redis
def test_the_schema_endpoint_serves_the_flow_schema(redis_url: str, tmp_path: Path) -> None:
    app: Flask = make_app(redis_url, str(tmp_path / "archive.db"))
    client = app.test_client()
    anonymous = client.get("/ops/editor/schema.json", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    login(client)
    resp = client.get("/ops/editor/schema.json")
    assert resp.status_code == 200 and resp.get_json() == FLOW_SCHEMA
    speech = resp.get_json()["properties"]["states"]["additionalProperties"]["properties"]
    assert "deepgram_nova-3" in speech["speech"]["properties"]["model"]["enum"]
    page = client.get("/ops/flows/card-services").get_data(as_text=True)
    assert 'data-schema-url="/ops/editor/schema.json"' in page
    assert '<script src="/ops/static/editor.js" defer></script>' in page
