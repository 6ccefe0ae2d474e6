"""Connector operators: the connector interface (``connectors.base``) for BPMN service tasks.

``connector/create`` ``/get`` ``/start`` ``/stop`` ``/reboot`` ``/resize`` ``/delete`` call the
account's connector and record what it answered through the ``resources`` port
(``tasks.ports.ResourcesPort``); ``connector/probe`` and ``connector/sync`` ask the port to probe or
synchronise the account. A connector error becomes ``OperatorError(<its BPMN code>)`` (see
``connectors.errors``: ``CONNECTOR_UNREACHABLE``, ``CONNECTOR_TIMEOUT``, ...), which an error boundary
event with that ``errorCode`` catches; a port's refusal keeps its own code (``UNKNOWN_ACCOUNT``,
``UNKNOWN_RESOURCE``).

Timeouts and retries: each provider call is bounded by ``timeout_s`` (handed to the connector as
``options.timeout_s``); a retryable error (unreachable, timeout) is retried ``retries`` times with
a short doubling backoff before it becomes the BPMN error. ``create`` is safe to retry, here and
from the model: the caller gives the ``client_token`` (keep it in the process data, e.g. derived
from the order line), the operator returns it with the resource, and its error details carry it,
so a retried create (after a timeout or a lost response) finds the resource made the first time.

Mode: async. A cloud call can take minutes, so these run as jobs (``engine.jobs``, on Celery):
the step commits, the task waits STARTED, and the step's transaction and instance lock are not
held meanwhile. The job binds the instance's scope and standalone ports, so each port call (the
account's credentials, recording the resource) is its own short transaction for the instance's
tenant. A job may run twice (at-least-once delivery), which the client token makes safe for
``create``; the other calls set a state the provider already has or read it. An engine without a
dispatcher runs them inline in the step, as any async operator.

The whole call, retries and backoff included, must end within ``JOB_TIMEOUT_S`` (the operator's
``timeout_s``: the worker's soft time limit, and the job's lease): ``timeout_s`` is at most that, and
a retry that could not finish before it is not started; the last error is the BPMN error instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from connectors import registry
from connectors.base import Connector, ResourceSpec, check_client_token
from connectors.errors import ConnectorError, NotFound
from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 2
MAX_RETRIES = 5
BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
JOB_TIMEOUT_S = 600.0  # one operator call in a worker, retries included (its Celery soft time limit)
PORT_MARGIN_S = 15.0  # kept back from JOB_TIMEOUT_S for the port calls around the provider's
sleep: Callable[[float], None] = time.sleep  # tests replace it
monotonic: Callable[[], float] = time.monotonic  # tests replace it


def _bounded(timeout_s: Any, retries: Any) -> tuple[float, int]:
    limit = JOB_TIMEOUT_S - PORT_MARGIN_S
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s <= limit:
        raise OperatorError("INVALID_PARAMS", f"timeout_s must be a number of seconds between 0 and {limit:.0f}")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise OperatorError("INVALID_PARAMS", f"retries must be a whole number from 0 to {MAX_RETRIES}")
    return float(timeout_s), retries


def _connector(account_id: str, timeout_s: float) -> Connector:
    conn = _port(lambda: current().resources.connection(account_id))
    options = {**conn["options"], "timeout_s": timeout_s}
    try:
        return registry.connect(conn["provider_type"], conn["endpoint"], conn["region"], conn["credentials"], options)
    except ConnectorError as exc:
        raise OperatorError(exc.code, exc.message, {"account_id": account_id}) from exc


def _port(call: Callable[[], T]) -> T:
    try:
        return call()
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


def _retrying(call: Callable[[], T], retries: int, timeout_s: float, context: dict[str, Any]) -> T:
    """``call()``, again after a retryable connector error, ``retries`` times at most, and only
    while another try of ``timeout_s`` still ends within the operator's ``JOB_TIMEOUT_S`` (the
    worker would stop it mid-call otherwise, an incident instead of the BPMN error)."""
    deadline = monotonic() + JOB_TIMEOUT_S - PORT_MARGIN_S
    attempt = 0
    while True:
        try:
            return call()
        except ConnectorError as exc:
            backoff = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** attempt)
            if not exc.retryable or attempt >= retries or monotonic() + backoff + timeout_s > deadline:
                raise OperatorError(exc.code, exc.message, {**context, "attempts": attempt + 1,
                                                            "retryable": exc.retryable, **exc.details}) from exc
            sleep(backoff)
            attempt += 1


def _spec(raw: Any) -> ResourceSpec:
    if not isinstance(raw, dict):
        raise OperatorError("CONNECTOR_INVALID_SPEC", "spec must be an object")
    try:
        return ResourceSpec.from_dict(raw)
    except ValueError as exc:
        raise OperatorError("CONNECTOR_INVALID_SPEC", str(exc)) from exc


def _result(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("resource_id", "account_id", "provider_id", "client_token", "status",
                                    "pool_id", "name")}


@operator("connector/create", description="Create a resource at the account's provider (idempotent by client token)",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def create(account_id: str, spec: dict[str, Any], client_token: str, timeout_s: float = DEFAULT_TIMEOUT_S,
           retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    """Returns resource_id, provider_id, client_token, status. Errors carry the client token."""
    timeout, tries = _bounded(timeout_s, retries)
    try:
        token = check_client_token(client_token)
    except ValueError as exc:
        raise OperatorError("CONNECTOR_INVALID_SPEC", str(exc)) from exc
    wanted = _spec(spec)
    context = {"account_id": account_id, "client_token": token}
    with _connector(account_id, timeout) as connector:
        made = _retrying(lambda: connector.create(wanted, token), tries, timeout, context)
    return _result(_port(lambda: current().resources.record(account_id, made.to_dict(), origin="created")))


def _on_resource(resource_id: str, timeout_s: float, retries: int, act: Callable[[Connector, str], Any],
                 *, gone_is_done: bool = False) -> dict[str, Any]:
    timeout, tries = _bounded(timeout_s, retries)
    target = _port(lambda: current().resources.target(resource_id))
    context = {"resource_id": resource_id, "provider_id": target["provider_id"]}
    with _connector(target["account_id"], timeout) as connector:
        try:
            found = _retrying(lambda: act(connector, target["provider_id"]), tries, timeout, context)
        except OperatorError as exc:
            if gone_is_done and exc.code == NotFound.code:
                return _result(_port(lambda: current().resources.mark_deleted(resource_id)))
            raise
    return _result(_port(lambda: current().resources.record(target["account_id"], found.to_dict(),
                                                            origin="created")))


@operator("connector/get", description="Read a resource's state from its provider",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def get(resource_id: str, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.get(pid))


@operator("connector/start", description="Power a resource on", mode="async", timeout_s=JOB_TIMEOUT_S)
def start(resource_id: str, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.start(pid))


@operator("connector/stop", description="Power a resource off", mode="async", timeout_s=JOB_TIMEOUT_S)
def stop(resource_id: str, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.stop(pid))


@operator("connector/reboot", description="Reboot a resource", mode="async", timeout_s=JOB_TIMEOUT_S)
def reboot(resource_id: str, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.reboot(pid))


@operator("connector/resize", description="Resize a (stopped) resource to a new spec",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def resize(resource_id: str, spec: dict[str, Any], timeout_s: float = DEFAULT_TIMEOUT_S,
           retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    wanted = _spec(spec)
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.resize(pid, wanted))


@operator("connector/delete", description="Delete a resource (one the provider no longer knows counts as deleted)",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def delete(resource_id: str, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    return _on_resource(resource_id, timeout_s, retries, lambda c, pid: c.delete(pid), gone_is_done=True)


@operator("connector/probe", description="Probe a cloud account and record its health",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def probe(account_id: str) -> dict[str, Any]:
    """Returns health (up, degraded, down), latency_ms and, when down, error_code: a failed probe is
    data for the model to branch on, not a BPMN error."""
    return _port(lambda: current().resources.probe(account_id))


@operator("connector/sync", description="Synchronise a cloud account's pools and inventory",
          mode="async", timeout_s=JOB_TIMEOUT_S)
def sync(account_id: str) -> dict[str, Any]:
    """Returns the pool ids synchronised and the inventory counts; the provider's failure is the
    BPMN error of its code."""
    return _port(lambda: current().resources.sync(account_id))
