"""What-if: drain a pool or change what it has left, re-solve, and report the difference."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domains.placement import whatif
from engine.domains.placement.instance import InstanceError, parse
from tests.domains.placement.helpers import pool, request

DATA = {"requests": [request("web", vcpu=8, mem=8, count=4)],
        "pools": [pool("cheap", vcpu=16, cost={"vcpu": 0.01}), pool("dear", vcpu=64, cost={"vcpu": 0.05})]}


def test_draining_a_pool_moves_its_share_elsewhere_and_says_what_it_costs():
    out = whatif.what_if(parse(DATA), "cost", drain=["cheap"])
    assert {a["pool_id"] for a in out["after"]["assignments"]} == {"dear"}
    assert out["delta"]["placed"] == 0
    assert Decimal(out["delta"]["cost"]) == Decimal("0.64")  # 2 copies x 8 vCPU x 0.04 more


def test_a_drained_pool_keeps_its_current_load_in_the_balance():
    busy = pool("busy", vcpu=100, used={"vcpu": 0.6})
    instance = whatif.change(parse({"requests": [], "pools": [busy]}), drain=["busy"])
    [p] = instance.pools
    assert p.capacity.vcpu == 0 and p.total.vcpu == 100 and p.utilisation.vcpu == Decimal("0.6")


def test_adding_capacity_lets_the_unplaced_copies_in():
    data = {"requests": [request("train", gpu_model="H100", gpu_count=4, count=3)],
            "pools": [pool("gpu-a", vcpu=128, mem=1024, gpu={"H100": 8})]}
    out = whatif.what_if(parse(data), "cost", capacity={"gpu-a": {"gpu": {"H100": 12}}})
    assert (out["before"]["placed"], out["after"]["placed"], out["delta"]["placed"]) == (2, 3, 1)


def test_a_capacity_change_moves_the_total_and_keeps_the_load():
    p = pool("p", vcpu=100, used={"vcpu": 0.5})
    [changed] = whatif.change(parse({"requests": [], "pools": [p]}), capacity={"p": {"vcpu": 150}}).pools
    assert (changed.capacity.vcpu, changed.total.vcpu, changed.utilisation.vcpu) == (150, 200, Decimal("0.25"))


@pytest.mark.parametrize("kw, field", [({"drain": ["nope"]}, "drain[0]"), ({"capacity": {"nope": {}}}, "capacity.nope"),
                                       ({"capacity": {"cheap": {"disk": 1}}}, "capacity.cheap.disk"),
                                       ({"capacity": {"cheap": {"vcpu": -1}}}, "capacity.cheap.vcpu")])
def test_an_unknown_pool_or_a_bad_amount_is_named(kw, field):
    with pytest.raises(InstanceError) as err:
        whatif.change(parse(DATA), **kw)
    assert [e["field"] for e in err.value.errors] == [field]
