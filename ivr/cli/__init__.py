"""The ``ivr`` command line (``ivr.cli:main``), one module per family of commands."""

from ivr.cli import archive, data, doctor, flows, qa, run  # noqa: F401 - each registers its commands on main
from ivr.cli.base import main

__all__ = ["main"]
