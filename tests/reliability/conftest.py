"""Fixtures of the reliability suite: one real stack per session, and the summary table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.reliability.harness import STAT_ROWS, STATS, Stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: attacks a real gunicorn + Redis + RQ worker stack "
        "(tests/reliability)")


@pytest.fixture
def conn(stack: Stack) -> Iterator[redis.Redis]:
    """A client of the suite's Redis, closed after the test."""
    c = stack.conn()
    yield c
    c.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis (AOF, killable) + gunicorn (2 workers) on loopback; workers on demand."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STATS:
        return
    tr = terminalreporter
    tr.section("reliability summary")
    width = max(len(label) for _, label in STAT_ROWS)
    for key, label in STAT_ROWS:
        tr.write_line(f"  {label:<{width}}  {STATS.get(key, 0):>7,}")
    extra = sorted(k for k in STATS if k not in {k for k, _ in STAT_ROWS})
    for key in extra:
        tr.write_line(f"  {key:<{width}}  {STATS[key]:>7,}")
