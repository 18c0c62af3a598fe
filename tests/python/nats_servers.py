"""Real nats-server processes for the Python tests: one server, or a JetStream cluster,
on 127.0.0.1 ports the OS picks, each killed with the test process (PR_SET_PDEATHSIG).
Shared by test_contract.py (the nats backend) and test_nats_queue.py."""

import ctypes
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from pysyncq import PySyncQ

TIMEOUT = 30.0  # seconds: only a hung test waits this long


def server_program():
    """The nats-server program, or None when it is not installed."""
    for candidate in ("/usr/sbin/nats-server", "/usr/bin/nats-server", shutil.which("nats-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    """A port the OS has just handed out on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent():
    """In the server's child process: SIGKILL when the test process dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


START_ATTEMPTS = 3


class ExitedAtStart(RuntimeError):
    """A nats-server ended before it wrote its ports; the message ends with its log."""


class NatsServers:
    """One nats-server, or a JetStream cluster, on 127.0.0.1 ports the OS picks."""

    def __init__(self, nodes=1, args=(), login="", access=None):
        """``args``: more nats-server arguments (--user, --auth...); ``login``
        ("USER:PASSWORD@") and ``access`` (token=...): how the readiness probe logs in."""
        self.args, self.login, self.access = list(args), login, dict(access or {})
        # A cluster port is free when free_port() hands it out, not when the server binds
        # it: another program (a parallel test's server, say) may take it in between. A
        # server that exits at start is so tried again, on new ports, a few times.
        for attempt in range(1, START_ATTEMPTS + 1):
            self.root = pathlib.Path(tempfile.mkdtemp(prefix="pysyncq-nats-"))
            self.cluster_ports = [free_port() for _ in range(nodes)] if nodes > 1 else []
            self.nodes = [{"name": f"n{i}", "client": -1, "monitor": -1, "proc": None}
                          for i in range(nodes)]
            try:
                for index in range(nodes):
                    self._launch(index)
                self._wait_for_jetstream(nodes)
                return
            except ExitedAtStart:
                self.close()
                if attempt == START_ATTEMPTS:
                    raise
            except BaseException:
                self.close()
                raise

    def _launch(self, index):
        node = self.nodes[index]
        store = self.root / node["name"]
        store.mkdir(exist_ok=True)
        args = [server_program(), "-a", "127.0.0.1", "-p", str(node["client"]),
                "-m", str(node["monitor"]), "-js", "-sd", str(store), "-n", node["name"],
                "--ports_file_dir", str(store)] + self.args
        if self.cluster_ports:
            mine = self.cluster_ports[index]
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.cluster_ports if p != mine)
            args += ["--cluster_name", "pysyncq-test", "--cluster", f"nats://127.0.0.1:{mine}",
                     "--routes", routes]
        log = open(self.root / f"{node['name']}.log", "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=log, preexec_fn=die_with_parent)
        log.close()
        node["proc"] = proc
        ports_file = store / f"nats-server_{proc.pid}.ports"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log_tail = (self.root / f"{node['name']}.log").read_text(errors="replace")
                raise ExitedAtStart(f"nats-server {node['name']} exited at start "
                                    f"(status {proc.returncode}): {log_tail[-600:]}")
            try:
                ports = json.loads(ports_file.read_text())
                node["client"] = int(ports["nats"][0].rsplit(":", 1)[1])
                node["monitor"] = int(ports["monitoring"][0].rsplit(":", 1)[1])
                return
            except (OSError, ValueError, KeyError, IndexError):
                time.sleep(0.025)
        raise RuntimeError("nats-server wrote no ports file")

    def _wait_for_jetstream(self, replicas):
        deadline = time.monotonic() + 30
        while True:
            try:
                PySyncQ(self.url(f"probe-{secrets.token_hex(4)}", self.login), size=4096,
                        replicas=replicas, **self.access).close()  # never opened: deleted
                return
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, name, login=""):
        hosts = ",".join(f"127.0.0.1:{n['client']}" for n in self.nodes)
        return f"nats://{login}{hosts}/{name}"

    def stream_leader(self, name):
        """Index of the node leading the queue's stream (from the monitoring endpoint)."""
        for node in self.nodes:
            if node["proc"] is None or node["proc"].poll() is not None:
                continue
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{node['monitor']}/jsz?streams=true", timeout=5) as reply:
                info = json.load(reply)
            for account in info.get("account_details", []):
                for stream in account.get("stream_detail", []):
                    if stream["name"] == f"PYSYNCQ_{name}":
                        leader = stream.get("cluster", {}).get("leader")
                        return [n["name"] for n in self.nodes].index(leader)
        raise LookupError(f"no stream for queue {name}")

    def kill(self, index):
        proc = self.nodes[index]["proc"]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)

    def close(self):
        for index in range(len(self.nodes)):
            self.kill(index)
        shutil.rmtree(self.root, ignore_errors=True)


def nats_built():
    """Whether this pysyncq was built with NATS support (libnats-dev at build time)."""
    try:
        PySyncQ("nats://127.0.0.1:1/support-check")
    except ValueError as error:
        return "no NATS support" not in str(error)
    except OSError:
        return True  # it tried to connect: NATS is built in
    return True


def skip_reason():
    """Why NATS tests cannot run here, or None when they can."""
    if server_program() is None:
        return "nats-server is not installed (apt-get install nats-server)"
    if not nats_built():
        return "pysyncq was built without NATS support (apt-get install libnats-dev)"
    return None


def predicted_bytes(storage, url, sender, mtype, body, size=0):
    """What nats-server 2.9 charges for one message, padded to the queue's granule, and
    that granule (see tests/nats/nats_fixture.hpp): the smallest divisor of ``size`` in
    (overhead, 2 * (overhead + 1)], else overhead + 1."""
    subject = len("pysyncq.") + len(url.rsplit("/", 1)[1])
    headers = 10 + (16 + len(sender) + 2) + ((14 + len(mtype) + 2) if mtype else 0) + 35 + 2
    overhead = 22 + subject + 4 + 8 if storage == "file" else 16 + subject
    granule = next((g for g in range(overhead + 1, 2 * (overhead + 1) + 1) if size and size % g == 0),
                   overhead + 1)
    unpadded = overhead + headers + len(body)
    pad = -unpadded % granule
    while 0 < pad < 16:  # the pad header line "Pysyncq-Pad: V\r\n" takes at least 16 bytes
        pad += granule
    return unpadded + pad, granule
