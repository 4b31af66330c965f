"""Fixtures of the engine's tests."""

from __future__ import annotations

import pytest

from ivr.flowlang.catalog import Catalog
from ivr.flowlang.machine import Compiled


@pytest.fixture
def cards(catalog: Catalog) -> Compiled:
    """The shipped card-services flow, compiled."""
    c = catalog.get("card-services")
    assert c is not None
    return c
