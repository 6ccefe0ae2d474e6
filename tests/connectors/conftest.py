"""Session fixtures for the connector tests: one cloud API server per provider (tests/cloud_servers.py).

Add new fixtures in their own clearly-marked section below; keep each section self-contained.

A server whose binary is not built here is skipped, or fails the test when AICMP_REQUIRE_SERVERS=1
(CI sets it), exactly as tests/conftest.py does for PostgreSQL and RabbitMQ. Each server's start
time is kept on ``tests.cloud_servers.STARTED`` and printed in the terminal summary.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import cloud_servers
from tests.servers import Server, ServerNotInstalled


def _start_or_skip(start, workdir: Path) -> Server:
    try:
        return start(workdir)
    except ServerNotInstalled as exc:
        reason = str(exc)
    if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
        pytest.fail(f"{reason} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """``127.0.0.1:PORT`` where a socket listens but never accepts: connections open, nothing answers
    (what a hung provider looks like), so a connector's call must end in its timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"127.0.0.1:{s.getsockname()[1]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if cloud_servers.STARTED:
        figures = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in sorted(cloud_servers.STARTED.items()))
        terminalreporter.write_line(f"cloud API servers ready in: {figures}")


# =============================================================================================
# OpenStack, vSphere, Kubernetes: openstack_server, vcsim_server, kube_server (session)
# =============================================================================================


@pytest.fixture(scope="session")
def openstack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The Keystone/Nova/Placement stand-in; ``url`` is the Keystone v3 auth URL."""
    server = _start_or_skip(cloud_servers.start_openstack, tmp_path_factory.mktemp("openstack"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vcsim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """govmomi's vCenter simulator; ``url`` is https://127.0.0.1:PORT/sdk."""
    server = _start_or_skip(cloud_servers.start_vcsim, tmp_path_factory.mktemp("vcsim"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """etcd + kube-apiserver; ``url`` is https://127.0.0.1:PORT, token cloud_servers.KUBE_TOKEN."""
    server = _start_or_skip(cloud_servers.start_kube_apiserver, tmp_path_factory.mktemp("kube"))
    yield server
    server.stop()
