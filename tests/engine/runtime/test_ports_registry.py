"""The platform ports: a registry of factories by name, filled by the installed domains, each port
built on first use in a write transaction and bound to that transaction only."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings
from engine.core import Engine
from engine.domains import INSTALLED
from engine.domains.applications.ports import Applications, Orders, Quotas
from engine.ports import PlatformPorts, PortRegistry, bound_ports
from engine.site_messages import MessagesPort
from tasks import ports as task_ports


def test_the_installed_domains_and_the_notices_register_the_four_ports(engine: Engine) -> None:
    assert engine.domains == INSTALLED
    assert set(engine.ports.names) >= {"applications", "quota", "orders", "messages"}  # and each later domain's
    assert engine.runtime.internal_keys >= {"application", "approval", "order"}


def test_a_port_is_built_on_first_use_once_per_transaction(engine: Engine) -> None:
    with engine.db.write() as s:
        s.connection()  # the transaction begins
        ports = bound_ports()
        assert isinstance(ports, PlatformPorts)
        assert task_ports.current() is ports
        assert vars(ports).keys().isdisjoint({"applications", "quota", "orders", "messages"})  # none built
        first = ports.applications
        assert isinstance(first, Applications) and ports.applications is first
        assert isinstance(ports.quota, Quotas) and isinstance(ports.orders, Orders)
        assert isinstance(ports.messages, MessagesPort)
        with pytest.raises(AttributeError):
            ports.nothing_installed
    assert bound_ports() is None  # unbound once the transaction ended
    with engine.db.write() as s:
        s.connection()
        assert bound_ports() is not ports


def test_an_engine_without_domains_has_only_the_core_ports(tmp_path: Path) -> None:
    eng = Engine(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'bare.db'}"), domains=())
    try:
        assert eng.ports.names == ("messages",)
        assert "application" not in eng.runtime.internal_keys
        with eng.db.write() as s, pytest.raises(AttributeError):
            s.connection()
            bound_ports().applications
    finally:
        eng.close()


def test_a_name_is_registered_once() -> None:
    registry = PortRegistry()
    registry.register("quota", Quotas)
    registry.register("quota", Quotas)  # the same factory again: no change
    with pytest.raises(ValueError, match="registered already"):
        registry.register("quota", Orders)
    with pytest.raises(ValueError, match="cannot name a port"):
        registry.register("session", Orders)
