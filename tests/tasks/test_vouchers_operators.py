"""Voucher operators against a fake vouchers port (no database): each passes the process's values
across, a reduce decision passes its amount and an approve none, and the port's refusals become the
OperatorError codes the BPMN error boundaries of voucher_redemption match."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import vouchers
from tasks.ports import PortUnavailable, Refused, bound
from tasks.registry import REGISTRY, OperatorError


class FakeVouchers:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Refused | None = None

    def _call(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse
        return {"called": call[0]}

    def quote(self, redemption_id: str) -> dict[str, Any]:
        return self._call("quote", redemption_id)

    def hold(self, redemption_id: str) -> dict[str, Any]:
        return self._call("hold", redemption_id)

    def apply(self, redemption_id: str, amount: Any, comment: str | None) -> dict[str, Any]:
        return self._call("apply", redemption_id, amount, comment)

    def release(self, redemption_id: str, status: str, comment: str | None, reason: str | None) -> dict[str, Any]:
        return self._call("release", redemption_id, status, comment, reason)

    def expire(self, voucher_id: str) -> dict[str, Any]:
        return self._call("expire", voucher_id)


class FakePorts:
    def __init__(self) -> None:
        self.vouchers = FakeVouchers()


@pytest.fixture
def ports():
    with bound(FakePorts()) as p:
        yield p


def test_every_voucher_operator_is_registered() -> None:
    assert {"vouchers/quote", "vouchers/hold", "vouchers/apply", "vouchers/release", "vouchers/expire"} <= set(
        REGISTRY.names())


def test_the_operators_pass_the_process_values_to_the_port(ports) -> None:
    vouchers.quote(redemption_id="r-1")
    vouchers.hold(redemption_id="r-1")
    vouchers.apply(redemption_id="r-1", decision="approve", amount="12.00", comment="ok")  # approve: all held
    vouchers.apply(redemption_id="r-1", decision="reduce", amount="12.00", comment=None)
    vouchers.release(redemption_id="r-1", status="rejected", comment="no", reason=None)
    vouchers.expire(voucher_id="v-1")
    assert ports.vouchers.calls == [("quote", "r-1"), ("hold", "r-1"), ("apply", "r-1", None, "ok"),
                                    ("apply", "r-1", "12.00", None), ("release", "r-1", "rejected", "no", None),
                                    ("expire", "v-1")]


@pytest.mark.parametrize(("decision", "amount", "code"), [("reject", None, "INVALID_DECISION"),
                                                          ("reduce", None, "INVALID_AMOUNT"),
                                                          ("reduce", "", "INVALID_AMOUNT")])
def test_apply_refuses_what_is_not_an_approval(ports, decision: str, amount: Any, code: str) -> None:
    with pytest.raises(OperatorError) as exc:
        vouchers.apply(redemption_id="r-1", decision=decision, amount=amount)
    assert exc.value.code == code and ports.vouchers.calls == []


def test_a_refusal_becomes_the_bpmn_error_code(ports) -> None:
    ports.vouchers.refuse = Refused("NOTHING_TO_REDEEM", "a concurrent redemption took it")
    with pytest.raises(OperatorError) as exc:
        vouchers.hold(redemption_id="r-1")
    assert (exc.value.code, exc.value.message) == ("NOTHING_TO_REDEEM", "a concurrent redemption took it")


def test_a_comment_must_be_text(ports) -> None:
    with pytest.raises(OperatorError) as exc:
        vouchers.release(redemption_id="r-1", status="rejected", comment=["x"])
    assert exc.value.code == "INVALID_INPUT"


def test_outside_an_engine_transaction_there_is_no_port() -> None:
    with pytest.raises(PortUnavailable):
        vouchers.quote(redemption_id="r-1")
