"""Benchmarks: run each as ``python -m bench.<name>`` or ``python bench/<name>.py``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOKEN = "bench-token"
"""The Twilio auth token every benchmark's server checks signatures with."""
CLOCK = "2026-11-20T14:05:00-05:00"
"""A Friday afternoon: the flows' lines are open."""
BASE = "http://localhost"
"""The base URL of in-process requests (the Flask test client, WSGI calls)."""


@contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` for the length of the block; stopped (then killed) however it ends."""
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
