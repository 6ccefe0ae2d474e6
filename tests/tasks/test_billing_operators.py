"""Billing operators against a fake billing port: parameters checked, the port called with them, its
refusals turned into the BPMN error codes the models catch."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import billing
from tasks.ports import Refused, bound
from tasks.registry import REGISTRY, OperatorError


class FakeBilling:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse
        return {"ok": True}

    def rate(self, day: str) -> dict[str, Any]:
        return self._call("rate", day)

    def close_day(self, day: str) -> dict[str, Any]:
        return self._call("close_day", day)

    def start(self, resource_ref: str, started_at: str, **fields: Any) -> dict[str, Any]:
        return self._call("start", resource_ref, started_at, fields)

    def stop(self, resource_ref: str, stopped_at: str) -> dict[str, Any]:
        return self._call("stop", resource_ref, stopped_at)


class Ports:
    def __init__(self) -> None:
        self.billing = FakeBilling()


@pytest.fixture
def ports():
    found = Ports()
    with bound(found):
        yield found


def test_the_four_operators_are_registered_under_area_verb_names():
    assert {"billing/rate", "billing/close_day", "billing/start", "billing/stop"} <= set(REGISTRY.names())


def test_rate_and_close_pass_the_day_to_the_port(ports):
    billing.rate(day="2026-03-01")
    billing.close_day(day="2026-03-01")
    assert ports.billing.calls == [("rate", "2026-03-01"), ("close_day", "2026-03-01")]


@pytest.mark.parametrize("day", ["2026-02-30", "yesterday", None, 20260301])
def test_a_day_that_is_not_a_date_is_invalid(ports, day):
    with pytest.raises(OperatorError) as err:
        billing.rate(day=day)
    assert err.value.code == "INVALID_DAY" and ports.billing.calls == []


def test_start_passes_the_spec_and_dimensions_and_leaves_out_nones(ports):
    billing.start(resource_ref="vm-1", started_at="2026-03-01T00:00:00+00:00", spec_id="s-1", quantity=2,
                  provider=None, organization_id="o-1")
    assert ports.billing.calls == [("start", "vm-1", "2026-03-01T00:00:00+00:00",
                                    {"spec_id": "s-1", "quantity": 2, "organization_id": "o-1"})]


@pytest.mark.parametrize(("params", "code"), [
    ({"resource_ref": "vm-1", "started_at": "2026-03-01T00:00:00Z"}, "INVALID_PARAMETERS"),
    ({"resource_ref": "", "started_at": "2026-03-01T00:00:00Z", "spec_id": "s"}, "INVALID_PARAMETERS"),
    ({"resource_ref": "vm-1", "started_at": "2026-03-01T00:00:00Z", "spec_id": "s", "colour": "red"},
     "INVALID_PARAMETERS")])
def test_start_refuses_bad_parameters(ports, params, code):
    with pytest.raises(OperatorError) as err:
        billing.start(**params)
    assert err.value.code == code and ports.billing.calls == []


def test_a_port_refusal_becomes_the_bpmn_error_code(ports):
    ports.billing.refuse = Refused("NOT_PERMITTED", "only platform processes bill")
    for call in (lambda: billing.rate(day="2026-03-01"),
                 lambda: billing.stop(resource_ref="vm-1", stopped_at="2026-03-01T00:00:00Z")):
        with pytest.raises(OperatorError) as err:
            call()
        assert err.value.code == "NOT_PERMITTED"
