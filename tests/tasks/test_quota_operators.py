"""Quota operators against fake ports: ``quota/reserve`` computes the demand from the application's
items and hands it to the quota port; the port's refusals become OperatorError codes the BPMN
error boundaries match (QUOTA_SHORT with its details, or the Refused code as it is)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tasks import quota
from tasks.ports import QuotaShort, Refused
from tasks.registry import OperatorError
from tests.tasks.conftest import item

ZERO = Decimal(0)


# ---------------------------------------------------------------------------------------------- demand


def test_demand_is_per_unit_times_quantity_with_every_base_dimension():
    need = quota.demand([item(quantity=3), item(vcpu=8, memory_gib="16.5", disk_gib=None, eips=1)])
    assert need == {"vcpu": Decimal(14), "memory_gib": Decimal("28.5"), "disk_gib": Decimal(60),
                    "instances": Decimal(4), "eips": Decimal(1), "gpus": ZERO}


def test_demand_counts_gpus_in_total_and_per_model():
    need = quota.demand([item(quantity=2, gpu_count=8, gpus_by_model={"H100": 8}),
                         item(gpu_count=2, gpus_by_model={"A100": 1, "H100": 1})])
    assert need["gpus"] == Decimal(18)
    assert need["gpus:H100"] == Decimal(17) and need["gpus:A100"] == Decimal(1)


def test_a_line_from_before_per_model_counts_counts_as_its_one_model():
    need = quota.demand([item(quantity=2, gpu_model="Ascend 910B", gpu_count=4)])
    assert need["gpus"] == Decimal(8) and need["gpus:Ascend 910B"] == Decimal(8)


def test_no_items_need_zero_of_every_base_dimension():
    assert quota.demand([]) == dict.fromkeys(("vcpu", "memory_gib", "disk_gib", "instances", "eips", "gpus"), ZERO)


@pytest.mark.parametrize("quantity", [0, -1, True, "2", 1.5, None])
def test_a_quantity_that_is_not_a_positive_integer_is_invalid(quantity):
    with pytest.raises(OperatorError) as err:
        quota.demand([item(quantity=quantity)])
    assert err.value.code == "INVALID_ITEMS"


@pytest.mark.parametrize("field, value", [("vcpu", -1), ("memory_gib", "lots"), ("disk_gib", "NaN"),
                                          ("eips", "Infinity")])
def test_an_amount_that_is_not_a_non_negative_number_is_invalid(field, value):
    with pytest.raises(OperatorError) as err:
        quota.demand([item(**{field: value})])
    assert err.value.code == "INVALID_ITEMS" and field in err.value.message


@pytest.mark.parametrize("model", [" H100", "H100:x", "A,B", "x" * 101])
def test_a_gpu_model_that_cannot_name_a_dimension_is_invalid(model):
    with pytest.raises(OperatorError) as err:
        quota.demand([item(gpu_count=1, gpus_by_model={model: 1})])
    assert err.value.code == "INVALID_ITEMS"


# ---------------------------------------------------------------------------------------------- reserve


def test_reserve_hands_the_demand_to_the_port_and_returns_what_it_booked_as_text(ports):
    ports.applications.records["app-1"]["items"] = [item(quantity=2, gpu_count=1, gpus_by_model={"H100": 1})]
    result = quota.reserve(application_id="app-1")
    (call,) = ports.quota.calls
    assert call[:2] == ("reserve", "app-1") and call[2]["vcpu"] == Decimal(4) and call[2]["gpus:H100"] == 2
    assert result == {"reserved": {"vcpu": "4", "memory_gib": "8", "disk_gib": "40", "instances": "2",
                                   "gpus": "2", "gpus:H100": "2"}}


def test_a_reservation_that_does_not_fit_is_quota_short_with_its_details(ports):
    ports.quota.short = QuotaShort("gpus:H100", "organization:lab", Decimal(8), Decimal("2.5"))
    with pytest.raises(OperatorError) as err:
        quota.reserve(application_id="app-1")
    assert err.value.code == "QUOTA_SHORT"
    assert err.value.details == {"dimension": "gpus:H100", "level": "organization:lab", "requested": "8",
                                 "available": "2.5"}
    assert "gpus:H100" in err.value.message


def test_a_refused_reservation_keeps_the_ports_code_and_message(ports):
    ports.quota.refuse = Refused("APPLICATION_STATE", "application APP-0001 is cancelled")
    with pytest.raises(OperatorError) as err:
        quota.reserve(application_id="app-1")
    assert (err.value.code, err.value.message) == ("APPLICATION_STATE", "application APP-0001 is cancelled")


def test_invalid_items_never_reach_the_quota_port(ports):
    ports.applications.records["app-1"]["items"] = [item(quantity=0)]
    with pytest.raises(OperatorError, match="quantity"):
        quota.reserve(application_id="app-1")
    assert ports.quota.calls == []


def test_an_unknown_application_is_the_ports_refusal(ports):
    with pytest.raises(Refused) as err:
        quota.reserve(application_id="app-elsewhere")
    assert err.value.code == "UNKNOWN_APPLICATION"
    assert ports.quota.calls == []


# ---------------------------------------------------------------------------------------------- commit, release


def test_commit_and_release_return_the_ports_amounts_as_text(ports):
    quota.reserve(application_id="app-1")
    assert quota.commit(application_id="app-1") == {"committed": {"vcpu": "2", "memory_gib": "4",
                                                                  "disk_gib": "20", "instances": "1"}}
    assert quota.release(application_id="app-1") == {"released": {}}
    assert [c[0] for c in ports.quota.calls] == ["reserve", "commit", "release"]


@pytest.mark.parametrize("operator", [quota.commit, quota.release])
def test_a_refused_commit_or_release_keeps_the_ports_code(ports, operator):
    ports.quota.refuse = Refused("NOT_RESERVED", "nothing is held")
    with pytest.raises(OperatorError) as err:
        operator(application_id="app-1")
    assert err.value.code == "NOT_RESERVED"
