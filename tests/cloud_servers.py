"""Cloud API servers the connector tests talk to: one starter per provider, each in its own
clearly marked section below (add yours with a targeted edit; keep sections self-contained).

Every starter listens on 127.0.0.1 on a free port picked at start, keeps its state in a private
directory, and returns a ``tests.servers.Server`` whose ``url`` is the endpoint to give the
connector and whose ``stop()`` ends the process. A starter raises ``ServerNotInstalled`` when its
binary is absent (the fixture skips, or fails under AICMP_REQUIRE_SERVERS=1) and
``ServerStartError`` with the log tail when it did not come up. Start times are measured and kept on
``STARTED`` (name -> seconds) so the session can report them.

    start_moto(workdir)      AWS stand-in: .venv/bin/moto_server (environment.md: ready in ~0.5 s)
    start_openstack(workdir) Keystone/Nova/Placement stand-in (tests/connectors/openstack_standin.py)
    start_vcsim(workdir)     govmomi's vCenter simulator (deploy/vcsim/main.go, built by deploy/lib.sh)
    start_kube_apiserver(workdir)  etcd + kube-apiserver (built by deploy/lib.sh from Debian's source)

Like tests/servers.py it imports nothing of the project, so a shell can start one::

    python -c "from pathlib import Path; from tests.cloud_servers import *; print(start_moto(Path('/tmp/m')).url)"
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.servers import Server, ServerNotInstalled, ServerStartError

__all__ = ["STARTED", "free_port", "port_open", "start_kube_apiserver", "start_moto", "start_openstack", "start_vcsim",
           "stop_process", "wait_until"]

READY_TIMEOUT_S = 60.0
STARTED: dict[str, float] = {}  # server name -> seconds it took to become ready (this session)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ready, proc: subprocess.Popen | None, log: Path, what: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll ``ready()`` until true; fail with the log tail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    raise ServerStartError(f"{what} did not become ready:\n{tail}")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate one process we started (and only it), killing it if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)


# =============================================================================================
# AWS: moto_server (moto[server], installed in the project's venv beside this Python).
# =============================================================================================


def moto_binary() -> Path:
    return Path(sys.executable).with_name("moto_server")


def start_moto(workdir: Path, *, iam_auth: bool = False) -> Server:
    """``moto_server -H 127.0.0.1 -p PORT``; ``url`` is ``http://127.0.0.1:PORT`` (boto3 endpoint_url).
    ``iam_auth``: moto checks every request's credentials against its IAM (none exist, so every
    key is refused: the bad-credentials case)."""
    binary = moto_binary()
    if not binary.exists():
        raise ServerNotInstalled(f"{binary} not found (pip install 'moto[server]' into the venv)")
    workdir.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), workdir / "moto.log"
    began = time.monotonic()
    with log.open("w") as out:
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0" if iam_auth else "inf"}
        proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True, env=env)
    try:
        wait_until(lambda: port_open(port), proc, log, "moto_server")
    except BaseException:
        stop_process(proc)
        raise
    STARTED["moto-iam" if iam_auth else "moto"] = time.monotonic() - began
    return Server(url=f"http://127.0.0.1:{port}", log=log, _stopper=lambda: stop_process(proc))


# =============================================================================================
# OpenStack: the Keystone/Nova/Placement stand-in (tests/connectors/openstack_standin.py), run as
# its own process so openstacksdk talks to it over real HTTP.
# =============================================================================================

OPENSTACK_PASSWORD = "standin-secret"


def _ready_line(proc: subprocess.Popen, log: Path, what: str, timeout: float = READY_TIMEOUT_S) -> str:
    """Wait for the ``READY <url>`` line a stand-in prints on stdout (it goes to ``log`` too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines() if log.exists() else ():
            if line.startswith("READY "):
                return line.split(" ", 1)[1].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    raise ServerStartError(f"{what} did not become ready:\n{tail}")


def start_openstack(workdir: Path, *, delay: float = 0.2) -> Server:
    """The OpenStack stand-in; ``url`` is the Keystone v3 endpoint (``.../identity/v3``), user and
    project ``aicmp``, password ``OPENSTACK_PASSWORD``. State changes take ``delay`` seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "openstack.log"
    root = Path(__file__).resolve().parents[1]
    began = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.connectors.openstack_standin", "--password",
                                 OPENSTACK_PASSWORD, "--delay", str(delay)], stdout=out, stderr=subprocess.STDOUT,
                                cwd=root, start_new_session=True)
    try:
        base = _ready_line(proc, log, "the OpenStack stand-in")
        wait_until(lambda: port_open(int(base.rsplit(":", 1)[1])), proc, log, "the OpenStack stand-in")
    except BaseException:
        stop_process(proc)
        raise
    STARTED["openstack"] = time.monotonic() - began
    return Server(url=f"{base}/identity/v3", log=log, _stopper=lambda: stop_process(proc))


# =============================================================================================
# vSphere: govmomi's vCenter simulator, built by deploy/lib.sh (aicmp_ensure_vcsim) from
# deploy/vcsim/main.go into $AICMP_CACHE/vcsim/vcsim-<sha256(main.go)[:16]>.
# =============================================================================================

VCSIM_USER, VCSIM_PASSWORD = "aicmp@vsphere.local", "vcsim-secret"
VCSIM_CLUSTER_GPUS = 2  # NVIDIA A100 PCI devices on each clustered host


def aicmp_cache() -> Path:
    """The build cache deploy/lib.sh uses: $AICMP_CACHE, else $XDG_CACHE_HOME/aicmp or ~/.cache/aicmp."""
    if os.environ.get("AICMP_CACHE"):
        return Path(os.environ["AICMP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aicmp"


def vcsim_binary() -> Path:
    if os.environ.get("AICMP_VCSIM"):
        return Path(os.environ["AICMP_VCSIM"])
    main_go = Path(__file__).resolve().parents[1] / "deploy" / "vcsim" / "main.go"
    digest = hashlib.sha256(main_go.read_bytes()).hexdigest()[:16]
    return aicmp_cache() / "vcsim" / f"vcsim-{digest}"


def start_vcsim(workdir: Path) -> Server:
    """A vCenter simulator (VPX model: 1 datacenter, 1 cluster of 3 hosts with ``VCSIM_CLUSTER_GPUS``
    A100s each, 1 standalone host, 2 VMs per host and per cluster pool) over HTTPS with a self-signed
    certificate; ``url`` is its ``https://127.0.0.1:PORT/sdk``, login ``VCSIM_USER`` / ``VCSIM_PASSWORD``."""
    binary = vcsim_binary()
    if not binary.exists():
        raise ServerNotInstalled(f"{binary} not built (deploy/lib.sh aicmp_ensure_vcsim: needs golang-go and "
                                 "golang-github-vmware-govmomi-dev)")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "vcsim.log"
    began = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([str(binary), "-username", VCSIM_USER, "-password", VCSIM_PASSWORD,
                                 "-cluster-gpus", str(VCSIM_CLUSTER_GPUS)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    try:
        url = _ready_line(proc, log, "vcsim")
    except BaseException:
        stop_process(proc)
        raise
    STARTED["vcsim"] = time.monotonic() - began
    return Server(url=url, log=log, _stopper=lambda: stop_process(proc))


# =============================================================================================
# Kubernetes: kube-apiserver built by deploy/lib.sh (aicmp_ensure_kube_apiserver) from Debian's
# kubernetes source into $AICMP_CACHE/kubernetes/bin, with Debian's etcd and kube-controller-manager.
# Token auth, RBAC; no scheduler and no kubelet (pods are made but stay Pending).
# =============================================================================================

KUBE_TOKEN = "aicmp-admin-token-0123456789abcdef"  # in group system:masters


def kube_apiserver_binary() -> Path:
    if os.environ.get("AICMP_KUBE_APISERVER"):
        return Path(os.environ["AICMP_KUBE_APISERVER"])
    return aicmp_cache() / "kubernetes" / "bin" / "kube-apiserver"


def kube_controller_manager_binary() -> Path:
    return kube_apiserver_binary().with_name("kube-controller-manager")


def etcd_binary() -> Path | None:
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    return Path(found) if found else None


def _https_ok(url: str, token: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as resp:  # noqa: S310 - our own server
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _service_account_keys(workdir: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = workdir / "sa.key", workdir / "sa.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def start_kube_apiserver(workdir: Path) -> Server:
    """etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 (HTTPS, self-signed); ``url`` is
    ``https://127.0.0.1:PORT``, bearer token ``KUBE_TOKEN``."""
    apiserver, controllers, etcd = kube_apiserver_binary(), kube_controller_manager_binary(), etcd_binary()
    for binary in (apiserver, controllers):
        if not binary.exists():
            raise ServerNotInstalled(f"{binary} not built (deploy/lib.sh aicmp_ensure_kube_apiserver: Debian's "
                                     "kubernetes source package, golang-go, rsync)")
    if etcd is None:
        raise ServerNotInstalled("etcd not installed (apt-get install etcd-server)")
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    client, peer, secure = free_port(), free_port(), free_port()
    etcd_log, api_log = workdir / "etcd.log", workdir / "kube-apiserver.log"
    with etcd_log.open("w") as out:
        etcd_proc = subprocess.Popen(
            [str(etcd), "--name", "aicmp", "--data-dir", str(workdir / "etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"aicmp=http://127.0.0.1:{peer}"],
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    procs = [etcd_proc]

    def stop() -> None:
        for p in reversed(procs):
            stop_process(p)

    try:
        wait_until(lambda: port_open(client), etcd_proc, etcd_log, "etcd")
        tokens = workdir / "tokens.csv"
        tokens.write_text(f'{KUBE_TOKEN},aicmp-admin,uid-aicmp-admin,"system:masters"\n')
        private, public = _service_account_keys(workdir)
        with api_log.open("w") as out:
            procs.append(subprocess.Popen(
                [str(apiserver), f"--etcd-servers=http://127.0.0.1:{client}", "--bind-address=127.0.0.1",
                 "--advertise-address=127.0.0.1", f"--secure-port={secure}", "--insecure-port=0",
                 f"--cert-dir={workdir / 'certs'}", f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
                 f"--service-account-key-file={public}", f"--service-account-signing-key-file={private}",
                 "--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/16",
                 "--disable-admission-plugins=ServiceAccount"],
                stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True))
        url = f"https://127.0.0.1:{secure}"
        wait_until(lambda: _https_ok(f"{url}/readyz", KUBE_TOKEN), procs[-1], api_log, "kube-apiserver")
        # The controller manager makes a Deployment's pods (they stay Pending: no scheduler), keeps
        # ResourceQuota usage and collects garbage.
        kubeconfig = workdir / "controller-manager.kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: aicmp\n"
            f"clusters: [{{name: aicmp, cluster: {{server: '{url}', insecure-skip-tls-verify: true}}}}]\n"
            f"users: [{{name: admin, user: {{token: '{KUBE_TOKEN}'}}}}]\n"
            "contexts: [{name: aicmp, context: {cluster: aicmp, user: admin}}]\n")
        cm_log = workdir / "kube-controller-manager.log"
        with cm_log.open("w") as out:
            procs.append(subprocess.Popen(
                [str(controllers), f"--kubeconfig={kubeconfig}", "--leader-elect=false", "--port=0",
                 "--secure-port=0", f"--service-account-private-key-file={private}",
                 f"--root-ca-file={workdir / 'certs' / 'apiserver.crt'}", "--use-service-account-credentials=false"],
                stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True))
        time.sleep(0.2)
        if procs[-1].poll() is not None:
            tail = cm_log.read_text(errors="replace")[-4000:]
            raise ServerStartError(f"kube-controller-manager exited at once:\n{tail}")
    except BaseException:
        stop()
        raise
    STARTED["kube-apiserver"] = time.monotonic() - began
    return Server(url=url, log=api_log, _stopper=stop)
