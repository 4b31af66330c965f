"""The destination table is read off the ``transitions`` machine: it must agree with it."""

from __future__ import annotations

import pytest
from transitions import MachineError

from ivr.flowlang.catalog import Catalog
from ivr.flowlang.machine import Compiled


class _Probe:
    state: str


def _fired(c: Compiled, state: str, trigger: str) -> str | None:
    """What the machine itself does for ``trigger`` in ``state`` (None: not allowed)."""
    probe = _Probe()
    c.machine.add_model(probe, initial=state)
    try:
        probe.trigger(trigger)  # type: ignore[attr-defined]
    except (MachineError, AttributeError):
        return None
    finally:
        c.machine.remove_model(probe)
    return probe.state


@pytest.mark.parametrize("flow_id", ["card-services", "clinic-appointments"])
def test_table_agrees_with_the_machine_everywhere(catalog: Catalog, flow_id: str) -> None:
    c = catalog.current[flow_id]
    triggers = {t["trigger"] for t in c.transitions}
    states = [s["name"] for s in c.states]
    checked = 0
    for state in states:
        for trigger in triggers:
            want = _fired(c, state, trigger)
            if want is None:
                with pytest.raises(KeyError):
                    c.fire(state, trigger)
            else:
                assert c.fire(state, trigger) == want
                checked += 1
    assert checked >= len(states)  # human (from anywhere) at least, for every state
