"""Throwaway PostgreSQL and RabbitMQ servers for tests and benchmarks.

Deliberately independent of the project's code (only the standard library and psycopg), so it can
start servers for anything: the test session (tests/conftest.py), a benchmark, a shell::

    python -c "from pathlib import Path; from tests.servers import *; s = start_postgres(Path('/tmp/x'))"

Both servers listen on 127.0.0.1 only, on free ports picked at start, with all their state in a
private directory, so several test sessions (or xdist workers) on one machine never collide.
Recipes and measured times: shared/docs/environment.md (PostgreSQL 15, RabbitMQ 3.10 on Debian 12).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "Server",
    "ServerNotInstalled",
    "ServerStartError",
    "create_database",
    "database_url",
    "drop_database",
    "postgres_installed",
    "rabbitmq_installed",
    "sqlalchemy_url",
    "start_postgres",
    "start_rabbitmq",
]

READY_TIMEOUT_S = 60.0  # the most any server may take to become ready
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 40

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # Debian's rabbitmq-server package


class ServerNotInstalled(RuntimeError):
    """The server's binaries are not on this machine (callers may skip instead of failing)."""


class ServerStartError(RuntimeError):
    """The server was installed but did not come up; the message ends with its log tail."""


@dataclass
class Server:
    """A running server. ``stop()`` is idempotent; servers not started by us have no stopper."""

    url: str
    log: Path | None = None
    _stopper: Callable[[], None] | None = field(default=None, repr=False)
    _restarter: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            stopper()

    def restart(self) -> None:
        """Stop the server cleanly and start it again on the same port with the same data (durable
        queues and their persistent messages survive); only for servers that support it."""
        if self._restarter is None or self._stopper is None:
            raise RuntimeError("this server cannot be restarted (not started here, or stopped)")
        self._restarter()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# small helpers


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; a tiny race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


def _fail(what: str, log: Path | None) -> ServerStartError:
    return ServerStartError(f"{what}\n--- last lines of {log} ---\n{_tail(log)}")


def _is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------------------------
# PostgreSQL


def _postgres_bindir() -> Path:
    """The highest-version /usr/lib/postgresql/N/bin that has initdb (Debian's layout)."""
    candidates = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(d).parent.name
        if version.isdigit() and (Path(d) / "initdb").exists():
            candidates.append((int(version), Path(d)))
    if not candidates:
        # Other layouts: initdb on PATH (e.g. a source build, Homebrew).
        initdb = shutil.which("initdb")
        if initdb:
            return Path(initdb).parent
        raise ServerNotInstalled(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql"
        )
    return max(candidates)[1]


def postgres_installed() -> bool:
    try:
        _postgres_bindir()
    except ServerNotInstalled:
        return False
    return True


def _as_postgres_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as the ``postgres`` OS user."""
    if not _is_root():
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_sh_quote, argv))]


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _pg_locale() -> str:
    """C.UTF-8 (Unicode-aware, byte-order collation) where glibc has it built in, else C."""
    return "C.UTF-8" if Path("/usr/lib/locale/C.utf8").is_dir() else "C"


def _postgres_base_dir(workdir: Path) -> tuple[Path, bool]:
    """A fresh directory for data, socket and log; second item: whether stop() must delete it.

    As root, the directory must belong to ``postgres``, and that user must be able to reach it:
    pytest's tmp dirs (/tmp/pytest-of-root, mode 0700) are not reachable, so fall back to a
    private directory under the system temp dir. Unix socket paths must also stay < 108 bytes.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="pg-", dir=workdir))
    reachable = len(str(base)) < 80
    if reachable and _is_root():
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        probe = subprocess.run(
            _as_postgres_user(["test", "-w", str(base)]), stdin=subprocess.DEVNULL, check=False
        )
        reachable = probe.returncode == 0
    if reachable:
        return base, False
    shutil.rmtree(base, ignore_errors=True)
    base = Path(tempfile.mkdtemp(prefix="aicmp-pg-"))
    if _is_root():
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    return base, True


def start_postgres(workdir: Path, *, fsync: bool = False, port: int | None = None) -> Server:
    """Start a throwaway PostgreSQL cluster (trust auth, user ``postgres``) on 127.0.0.1.

    ``fsync=False`` (the default) is fine for tests; benchmarks that measure commits want True.
    Raises ServerNotInstalled when the binaries are missing, ServerStartError when it fails.
    """
    bindir = _postgres_bindir()
    if _is_root():
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ServerNotInstalled("running as root but there is no 'postgres' OS user") from None
    base, remove_base = _postgres_base_dir(workdir)
    data, log = base / "data", base / "postgres.log"
    port = port or _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    # Never the caller's LANG (it may name a locale this machine has not generated).
    initdb.append(f"--locale={_pg_locale()}")
    initdb.append("--no-sync")  # a throwaway cluster: do not wait for its files to reach the disk
    out = subprocess.run(
        _as_postgres_user(initdb),
        cwd=base,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT_S,
        check=False,
    )
    if out.returncode != 0:
        if remove_base:
            shutil.rmtree(base, ignore_errors=True)
        raise ServerStartError(f"initdb failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")

    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {_sh_quote(str(base))}",  # socket in our dir (quoted: pg_ctl uses a shell)
            f"-c fsync={'on' if fsync else 'off'}",
            # Without fsync, skipping these too is safe and faster; with it, keep the defaults.
            *([] if fsync else ["-c synchronous_commit=off", "-c full_page_writes=off"]),
        ]
    )
    pg_ctl = str(bindir / "pg_ctl")
    start_cmd = [pg_ctl, "-D", str(data), "-l", str(log), "-o", options]
    start_cmd += ["-w", "-t", str(int(READY_TIMEOUT_S)), "start"]  # -w: wait until it accepts connections

    def pg_ctl_start() -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                _as_postgres_user(start_cmd),
                cwd=base,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=READY_TIMEOUT_S + 10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(start_cmd, -1, "", "pg_ctl start itself timed out")

    def stop() -> None:
        for mode in ("fast", "immediate"):
            try:
                r = subprocess.run(
                    _as_postgres_user([pg_ctl, "-D", str(data), "-m", mode, "-w", "-t", "20", "stop"]),
                    cwd=base,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=30,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0 or not (data / "postmaster.pid").exists():
                break
        else:  # last resort: the postmaster's pid is the first line of postmaster.pid
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
        # The data directory is tens of MB per session: drop it, keep the log (in workdir).
        if remove_base:
            with contextlib.suppress(OSError):
                shutil.copyfile(log, workdir / f"{base.name}.log")
        shutil.rmtree(base if remove_base else data, ignore_errors=True)

    started = pg_ctl_start()
    if started.returncode != 0:
        detail = f"pg_ctl start failed ({started.returncode}): {started.stdout}{started.stderr}".strip()
        error = _fail(detail, log)
        stop()
        raise error
    return Server(url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", log=log, _stopper=stop)


# --------------------------------------------------------------------------------------------
# Databases on a PostgreSQL server (psycopg, autocommit: CREATE/DROP DATABASE cannot run in a
# transaction).

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` -> libpq's ``postgresql://``."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    """libpq's ``postgres(ql)://`` -> SQLAlchemy's ``postgresql+psycopg://`` (psycopg 3 is installed,
    psycopg2, SQLAlchemy's default for a bare ``postgresql://``, is not). Other URLs are returned as is."""
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name`` (scheme and query kept)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(server_url: str, name: str) -> str:
    """Create an empty database ``name``; returns its URL (same form as ``server_url``)."""
    import psycopg
    from psycopg import sql

    if not _NAME_RE.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(_libpq_url(server_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
        )
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting anything still connected to it."""
    import psycopg
    from psycopg import sql

    if not _NAME_RE.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(_libpq_url(server_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------------------------
# RabbitMQ


def rabbitmq_installed() -> bool:
    return (RABBITMQ_BIN / "rabbitmq-server").exists() and shutil.which("epmd") is not None


def _amqp_ready(port: int) -> bool:
    """True once the broker answers the AMQP 0-9-1 protocol header with connection.start."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            frame = s.recv(7)
    except OSError:
        return False
    return len(frame) == 7 and frame[0] == 1  # a METHOD frame: the broker is accepting clients


def _stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM (Erlang and epmd shut down cleanly on it), then SIGKILL the whole process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # Whatever is left in its private process group (started with start_new_session=True).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def start_rabbitmq(workdir: Path) -> Server:
    """Start a throwaway RabbitMQ node (user guest/guest, vhost ``/``) on 127.0.0.1.

    Everything is private to this node: its own epmd (on its own port, started and stopped
    here), a unique node name, free AMQP and distribution ports, and HOME/mnesia/logs/config
    in a fresh directory under ``workdir``. The node runs in the foreground as our child, so
    stop() can always stop it and a crash during boot is noticed at once.
    """
    if not rabbitmq_installed():
        raise ServerNotInstalled(
            "RabbitMQ is not installed (no /usr/lib/rabbitmq/bin/rabbitmq-server or epmd): "
            "apt-get install rabbitmq-server"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="rabbitmq-", dir=workdir))
    log = base / "rabbitmq.log"
    amqp_port, dist_port, epmd_port = _free_port(), _free_port(), _free_port()
    node = f"rabbit-{secrets.token_hex(4)}@localhost"

    (base / "home").mkdir()
    (base / "enabled_plugins").write_text("[].\n")  # no plugins: faster boot, fewer ports
    (base / "rabbitmq.conf").write_text(
        "\n".join(
            [
                f"listeners.tcp.default = 127.0.0.1:{amqp_port}",
                "disk_free_limit.absolute = 1MB",  # CI disks are small; never block publishers
                "log.console = true",
                "log.console.level = info",
                "log.file = false",
                "",
            ]
        )
    )
    (base / "rabbitmq-env.conf").write_text("")  # do not read /etc/rabbitmq/rabbitmq-env.conf

    env = {
        **os.environ,
        "HOME": str(base / "home"),  # the Erlang cookie lands here
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),  # absent on purpose
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_LOGS": "-",  # log to stdout, i.e. to our log file
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
    }
    # Dropped: variables that would point the node at someone else's files.
    for var in ("RABBITMQ_BASE", "RABBITMQ_CONFIG_FILES", "RABBITMQ_SERVER_START_ARGS"):
        env.pop(var, None)

    with open(log, "ab") as out:
        # Our own epmd, so stop() can stop it without touching anyone else's nodes.
        epmd = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(epmd_port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        node_proc: subprocess.Popen | None = None

        def stop() -> None:
            if node_proc is not None:
                _stop_process(node_proc)
            _stop_process(epmd, timeout=5)
            shutil.rmtree(base / "mnesia", ignore_errors=True)

        def launch() -> None:
            nonlocal node_proc
            offset = log.stat().st_size if log.exists() else 0  # a restart: read only the new lines
            with open(log, "ab") as node_out:  # its own handle: a restart comes after `out` closed
                node_proc = subprocess.Popen(
                    [str(RABBITMQ_BIN / "rabbitmq-server")],
                    stdin=subprocess.DEVNULL,
                    stdout=node_out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=base,
                    start_new_session=True,  # own process group: stop() kills all of it
                )
            deadline = time.monotonic() + READY_TIMEOUT_S
            # Ready = OUR node logged its listener (not some other process that took the port
            # between _free_port() and now) and the port speaks AMQP.
            listening = f"started TCP listener on 127.0.0.1:{amqp_port}"
            while not (listening in log.read_bytes()[offset:].decode(errors="replace") and _amqp_ready(amqp_port)):
                if node_proc.poll() is not None:
                    raise _fail(f"rabbitmq-server exited with {node_proc.returncode} during boot", log)
                if time.monotonic() > deadline:
                    raise _fail(f"rabbitmq-server not ready after {READY_TIMEOUT_S:.0f} s", log)
                time.sleep(0.2)

        def restart() -> None:
            if node_proc is not None:
                _stop_process(node_proc)  # SIGTERM: a clean shutdown that keeps durable data
            launch()

        try:
            deadline = time.monotonic() + 10
            while not _port_open(epmd_port):
                if epmd.poll() is not None or time.monotonic() > deadline:
                    raise _fail(f"epmd did not start on port {epmd_port}", log)
                time.sleep(0.05)
            launch()
        except BaseException:
            stop()
            raise
    return Server(url=f"amqp://guest:guest@127.0.0.1:{amqp_port}//", log=log, _stopper=stop, _restarter=restart)
