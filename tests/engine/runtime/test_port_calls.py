"""A port call is a unit of work inside the step's transaction: what it changes is written when it
returns; a call that fails leaves nothing behind, whether it failed before writing (no SAVEPOINT
was needed) or after (rolled back to the SAVEPOINT its first write opened); a write that fails
with nothing to roll back to poisons the transaction, which then refuses to save."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from engine import audit, clock
from engine.core import Engine
from engine.models import AuditEntry, Tenant
from engine.ports import LAST_WRITE, bound_ports
from tests.sql_budget import SqlCounter


class Boom(Exception):
    pass


def _count(engine: Engine, model) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def _tenant(engine: Engine) -> Tenant:
    with engine.db.read() as s:
        return s.scalars(select(Tenant).order_by(Tenant.code)).first()


def test_a_call_that_succeeds_writes_its_changes_and_its_audit_without_a_savepoint(engine: Engine) -> None:
    tenant = _tenant(engine)
    before = _count(engine, AuditEntry)
    counter = SqlCounter(engine.db.engine)
    with counter.block() as tally, engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with ports.session() as ps:
            row = ps.get(Tenant, tenant.id)
            row.description = "changed in a port call"
            audit.record(ps, action="tenant.update", actor="t", tenant_id=tenant.id)
            assert ps.info["aicmp_deferred_inserts"]  # the audit row waits for the call's end
    assert not any("SAVEPOINT" in st for st in tally.statements)
    assert _count(engine, AuditEntry) == before + 1
    assert _tenant(engine).description == "changed in a port call"
    with engine.db.read() as s:
        assert audit.verify(s).ok


def test_a_call_that_fails_before_writing_leaves_nothing(engine: Engine) -> None:
    tenant = _tenant(engine)
    before = _count(engine, AuditEntry)
    with engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with pytest.raises(Boom), ports.session() as ps:
            ps.get(Tenant, tenant.id).description = "never"
            audit.record(ps, action="tenant.update", actor="t", tenant_id=tenant.id)
            raise Boom
        with ports.session() as ps:  # the transaction goes on; the next call chains its audit correctly
            audit.record(ps, action="tenant.read", actor="t", tenant_id=tenant.id)
    assert _tenant(engine).description != "never"
    assert _count(engine, AuditEntry) == before + 1
    with engine.db.read() as s:
        assert audit.verify(s).ok


def test_a_call_that_fails_after_writing_rolls_back_to_its_savepoint(engine: Engine) -> None:
    tenant = _tenant(engine)
    with engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with pytest.raises(Boom), ports.session() as ps:
            ps.execute(update(Tenant).where(Tenant.id == tenant.id).values(description="written, then undone"))
            ps.flush()
            raise Boom
        with ports.session() as ps:
            ps.get(Tenant, tenant.id).name = "kept"
    assert _tenant(engine).description != "written, then undone"
    assert _tenant(engine).name == "kept"


def test_a_write_failing_with_no_savepoint_fails_the_whole_step(engine: Engine) -> None:
    tenant = _tenant(engine)
    entries = _count(engine, AuditEntry)
    with pytest.raises(Exception), engine.db.write() as s:  # noqa: B017 - the database's own error
        audit.record(s, action="step.before", actor="t", tenant_id=tenant.id)
        s.flush()
        ports = bound_ports()
        try:
            with ports.session() as ps:  # a duplicate primary key: the flush at the call's end fails
                ps.add(Tenant(id=tenant.id, code=tenant.code, name="duplicate", created_at=clock.now()))
        except Exception:  # noqa: BLE001 - an operator would turn it into an incident and go on
            pass
        audit.record(s, action="step.after", actor="t", tenant_id=tenant.id)
    assert _count(engine, AuditEntry) == entries  # nothing of the step was committed


def test_a_call_made_inside_another_is_part_of_it(engine: Engine) -> None:
    tenant = _tenant(engine)
    before = _count(engine, AuditEntry)
    with engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with pytest.raises(Boom), ports.session() as outer:
            with ports.session() as inner:  # e.g. one port's method using another port
                audit.record(inner, action="inner.done", actor="t", tenant_id=tenant.id)
            audit.record(outer, action="outer.after-inner", actor="t", tenant_id=tenant.id)
            assert outer.info["aicmp_deferred_inserts"]  # still the outer call's: waits for its end
            raise Boom
    assert _count(engine, AuditEntry) == before  # the outer call failed: nothing of it, inner call included
    with engine.db.read() as s:
        assert audit.verify(s).ok


def test_a_call_whose_connection_broke_keeps_its_own_exception_and_commits_nothing(engine: Engine) -> None:
    """A Celery worker told to stop gets a SystemExit wherever it is, even inside a statement, which
    leaves the connection unusable. Undoing the call, ending the transaction and unbinding its ports
    must not fail on it: the SystemExit goes on unwinding (it does not become a database error that
    an operator would report as an incident), nothing is committed, no ports stay bound."""
    tenant = _tenant(engine)
    with pytest.raises(SystemExit), engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with ports.session() as ps:
            ps.execute(update(Tenant).where(Tenant.id == tenant.id).values(description="half done"))
            audit.record(ps, action="tenant.update", actor="t", tenant_id=tenant.id)
            ps.connection().invalidate()
            raise SystemExit(1)
    assert bound_ports() is None
    assert _tenant(engine).description != "half done"
    with engine.db.write() as s:  # the next transaction reads the audit chain's head afresh
        audit.record(s, action="tenant.read", actor="t", tenant_id=tenant.id)
    with engine.db.read() as s:
        assert audit.verify(s).ok


def _actions_since(engine: Engine, last_id: int) -> list[str]:
    with engine.db.read() as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.id > last_id).order_by(AuditEntry.id)))


def _last_id(engine: Engine) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.max(AuditEntry.id))) or 0


def test_the_audit_entries_of_a_steps_calls_go_out_with_the_steps_own_in_one_statement(any_engine: Engine) -> None:
    """Calls that succeeded hand their entries to the transaction; the step's own entry writes them
    first, in the same INSERT. A call that failed in between hands over nothing, and the next entry
    chains onto the last one still waiting, not onto the database's head."""
    tenant, last = _tenant(any_engine), _last_id(any_engine)
    counter = SqlCounter(any_engine.db.engine)
    with counter.block() as tally, any_engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with ports.session() as ps:
            audit.record(ps, action="call.one", actor="t", tenant_id=tenant.id)
        with pytest.raises(Boom), ports.session() as ps:  # wrote (a SAVEPOINT), then failed
            ps.execute(update(Tenant).where(Tenant.id == tenant.id).values(description="undone"))
            audit.record(ps, action="call.failed", actor="t", tenant_id=tenant.id)
            raise Boom
        with ports.session() as ps:
            audit.record(ps, action="call.two", actor="t", tenant_id=tenant.id)
        assert _actions_since(any_engine, last) == []  # nothing written yet
        audit.record(s, action="step.own", actor="t", tenant_id=tenant.id)
    inserts = [st for st in tally.statements if st.lstrip().upper().startswith("INSERT INTO AUDIT_LOG")]
    assert len(inserts) == 1
    assert _actions_since(any_engine, last) == ["call.one", "call.two", "step.own"]
    with any_engine.db.read() as s:
        assert audit.verify(s).ok


def test_waiting_audit_entries_are_written_when_the_transaction_commits_and_dropped_when_it_rolls_back(
        any_engine: Engine) -> None:
    tenant, last = _tenant(any_engine), _last_id(any_engine)
    with pytest.raises(Boom), any_engine.db.write() as s:
        s.connection()
        with bound_ports().session() as ps:
            audit.record(ps, action="call.rolled-back", actor="t", tenant_id=tenant.id)
        raise Boom
    with any_engine.db.write() as s:  # same pooled connection: nothing of the rolled-back step waits on it
        s.connection()
        with bound_ports().session() as ps:
            audit.record(ps, action="call.committed", actor="t", tenant_id=tenant.id)
        with bound_ports().session() as ps:
            audit.record(ps, action="call.committed-too", actor="t", tenant_id=tenant.id)
    assert _actions_since(any_engine, last) == ["call.committed", "call.committed-too"]
    with any_engine.db.read() as s:
        assert audit.verify(s).ok


def test_a_last_write_opens_no_savepoint_and_a_failure_after_it_marks_the_step_unsaveable(engine: Engine) -> None:
    """``LAST_WRITE`` spares a call that writes once, at its end, the SAVEPOINT round trips; if the
    call fails after it after all, there is nothing to roll back to, so the step is marked broken
    (the runtime's save refuses it) rather than committing half a call."""
    tenant = _tenant(engine)
    last_write = update(Tenant).where(Tenant.id == tenant.id).execution_options(**{LAST_WRITE: True})
    counter = SqlCounter(engine.db.engine)
    with counter.block() as tally, engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with ports.session() as ps:
            ps.execute(last_write.values(description="written last"))
            audit.record(ps, action="tenant.update", actor="t", tenant_id=tenant.id)
        assert ports.broken is None
    assert not any("SAVEPOINT" in st for st in tally.statements)
    assert _tenant(engine).description == "written last"

    with pytest.raises(Boom), engine.db.write() as s:
        s.connection()
        ports = bound_ports()
        with pytest.raises(Boom), ports.session() as ps:
            ps.execute(last_write.values(description="half a call"))
            raise Boom
        assert isinstance(ports.broken, Boom)
        with pytest.raises(Boom), ports.session() as ps:  # a later write would not undo it either
            ps.execute(update(Tenant).where(Tenant.id == tenant.id).values(name="never"))
            raise Boom
        raise Boom  # what the runtime's save does with a broken step (engine.runtime.instances)
    assert _tenant(engine).description == "written last"
