"""A gunicorn config file (``gunicorn -c tests/reliability/killpoints.py``) that SIGKILLs
the worker process at the points of a turn where a crash could lose or double a job:

- ``after-read``: the turn's read is done, nothing is committed;
- ``after-commit``: the compare-and-set (state + jobs into the outbox) is done, the TwiML
  is not sent;
- ``mid-drain``: the response is sent and an outbox entry is in RQ, but not yet removed.

Each point kills with the probability in ``KILLPOINT_AFTER_READ`` / ``KILLPOINT_AFTER_COMMIT``
/ ``KILLPOINT_MID_DRAIN`` and appends its name to ``KILLPOINT_LOG`` first. The wrappers are
installed in each forked worker (``post_fork``) from the test side: production code has no
test hooks. ``preload_app`` makes the replacement worker the arbiter forks start at once.
"""

from __future__ import annotations

import functools
import os
import random
import signal
from collections.abc import Callable
from typing import Any

preload_app = True


def _killer(point: str, chance: float, rng: random.Random) -> Callable[[], None]:
    log = os.environ.get("KILLPOINT_LOG", "kills.log")

    def maybe_die() -> None:
        if chance and rng.random() < chance:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, f"{point} {os.getpid()}\n".encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)

    return maybe_die


def _after(owner: Any, name: str, die: Callable[[], None]) -> None:
    real = getattr(owner, name)

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        die()
        return result

    setattr(owner, name, wrapper)


def post_fork(server: Any, worker: Any) -> None:
    from ivr.jobs import outbox
    from ivr.store.calls import Store

    rng = random.Random(f"{os.environ.get('KILLPOINT_SEED', '0')}-{os.getpid()}")
    env = os.environ.get
    _after(Store, "_read", _killer("after-read", float(env("KILLPOINT_AFTER_READ", "0")), rng))
    _after(Store, "_commit", _killer("after-commit", float(env("KILLPOINT_AFTER_COMMIT", "0")),
                                     rng))
    _after(outbox, "_move", _killer("mid-drain", float(env("KILLPOINT_MID_DRAIN", "0")), rng))
