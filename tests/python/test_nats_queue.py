"""The guide on a nats:// queue: PySyncQ("nats://127.0.0.1:PORT/NAME") with everything
else unchanged, against real nats-server processes that these tests start on 127.0.0.1
(one server, servers that want a password or a token, and a 3-node cluster whose stream
leader is killed). What every backend does alike is in test_contract.py.

Skipped, with the reason, when nats-server is not installed or the package was built
without NATS support (libnats-dev missing at build time).
"""

import multiprocessing as mp
import os
import pathlib
import secrets
import signal
import subprocess
import time

import pytest

import pysyncq
from nats_servers import (TIMEOUT, NatsServers, nats_built, predicted_bytes, server_program,
                          skip_reason)
from pysyncq import PySyncQ


@pytest.fixture(scope="module")
def nats_server():
    """A nats-server with JetStream for the tests of this module."""
    if skip_reason():
        pytest.skip(skip_reason())
    servers = NatsServers(1)
    yield servers
    servers.close()


@pytest.fixture
def nats_url(nats_server, request):
    tag = "".join(c if c.isalnum() else "-" for c in request.node.name[:30])
    return nats_server.url(f"py-{tag}-{secrets.token_hex(4)}")


# --- the guide's example, under each start method ---


def guide_child(q, barrier, children):
    """The guide's child target: open, say hello, read the others, report, close."""
    q.open(f"child-{os.getpid()}")
    barrier.wait(TIMEOUT)
    q.append("hello", f"from {os.getpid()}")
    senders = set()
    for sender, mtype, body in q(block=True, timer=TIMEOUT):
        senders.add(sender)
        if len(senders) == children:  # the parent and every other child
            break
    q.append("report", ",".join(sorted(senders)))
    q.close()


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_the_guide_example_runs_unchanged_on_a_nats_queue(nats_url, method):
    children = 3
    context = mp.get_context(method)
    q = PySyncQ(nats_url, size=1 << 20, start=method)
    barrier = context.Barrier(children + 1)
    processes = [context.Process(target=guide_child, args=(q, barrier, children))
                 for _ in range(children)]
    for p in processes:
        p.start()
    q.open("parent")
    barrier.wait(TIMEOUT)
    q.append("hello", "from the parent")
    hellos, reports = set(), {}
    while len(reports) < children:
        message = q.pop(block=True, timer=TIMEOUT)
        assert message is not None, f"hellos {hellos}, reports {reports}"
        sender, mtype, body = message
        if mtype == "hello":
            hellos.add(sender)
        else:
            reports[sender] = set(body.split(","))
    for p in processes:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    expected = {f"child-{p.pid}" for p in processes}
    assert hellos == expected
    for child, seen in reports.items():
        assert seen == (expected - {child}) | {"parent"}, child
    q.close()
    with pytest.raises(FileNotFoundError):
        PySyncQ(nats_url, create=False)  # the last close deleted it


# --- capacity of a file store (memory storage, timers, screening and iteration are in
# test_contract.py, for every backend) ---


def test_memoryerror_comes_at_the_predicted_count_of_a_file_store(nats_url):
    storage = "file"
    each, granule = predicted_bytes(storage, nats_url, "w", "t", "b" * 100)
    size = 10 * each + (each // 2) // granule * granule
    q = PySyncQ(nats_url, size=size, storage=storage)
    q.open("w", filtself=False)  # its own messages are its to read (screened ones are not)
    for _ in range(10):
        q.append("t", "b" * 100)
    with pytest.raises(MemoryError) as caught:
        q.append("t", "b" * 100)
    assert caught.value.needed_bytes == each
    assert caught.value.free_bytes == size - 10 * each
    assert q.stats().used_bytes == 10 * each
    # Only this process holds them: a blocking append moves them into its backlog (issue
    # 13), until that holds a capacity's worth too; then no timer helps.
    appended = 10
    with pytest.raises(pysyncq.Deadlock):
        while True:
            q.append("t", "b" * 100, block=True, timer=TIMEOUT)
            appended += 1
            assert appended <= 20, "the backlog outgrew the capacity"
    assert appended == 20
    assert q.stats().member_list[0].backlog_messages == 10
    q.close()


# --- issue 14: the byte bound holds whoever is slow ---


def test_a_member_that_never_pops_gets_memoryerror_at_the_predicted_count_then_reads_all(nats_url):
    q = PySyncQ(nats_url, size=4096)
    q.open("w", filtself=False)
    each, _ = predicted_bytes("memory", nats_url, "w", "t", "0" * 100, 4096)
    predicted = q.stats().capacity_bytes // each
    appended = 0
    with pytest.raises(MemoryError):
        while True:
            q.append("t", f"{appended:0100d}")
            appended += 1
            assert appended <= predicted, "the bound did not hold"
    assert appended == predicted
    assert q.stats().queued_messages == predicted  # the stream deleted none to make room
    # Blocking pops: a non-blocking one sees only what has reached this process yet.
    bodies = [q.pop(block=True, timer=TIMEOUT) for _ in range(predicted)]
    assert [int(body) for _, _, body in bodies] == list(range(predicted))  # once each, in order
    assert q.pop(block=True, timer=0.2) is None  # nothing twice
    deadline = time.monotonic() + TIMEOUT
    while q.stats().used_bytes != 0:  # the acks land: the space comes back
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for k in range(predicted):
        q.append("t", f"{k:0100d}")
    q.close()


def idle_member(q, ready, go, results):
    """Opens, then reads nothing until told; then reads everything and reports it."""
    q.open("idle")
    ready.set()
    go.wait(TIMEOUT)
    bodies = [body for _, _, body in q(block=True, timer=2.0)]
    results.put(bodies)
    q.close()


def test_an_idle_member_holds_the_space_until_its_reads_release_a_blocked_append(nats_url):
    q = PySyncQ(nats_url, size=4096)
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(target=idle_member, args=(q, ready, go, results))
    child.start()
    try:
        assert ready.wait(TIMEOUT)
        q.open("w")  # filtself: its own messages count as read when it reads
        each, _ = predicted_bytes("memory", nats_url, "w", "t", "0" * 100, 4096)
        predicted = q.stats().capacity_bytes // each
        appended = 0
        with pytest.raises(MemoryError):
            while True:
                q.append("t", f"{appended:0100d}")
                appended += 1
                assert appended <= predicted, "the bound did not hold"
        assert appended == predicted
        assert list(q) == []  # now only the idle member holds the space
        with pytest.raises(MemoryError) as caught:
            q.append("t", f"{predicted:0100d}", block=True, timer=0.3)
        assert not isinstance(caught.value, pysyncq.Deadlock)
        go.set()
        # Only the idle member's reads can make room: this waits for them.
        q.append("t", f"{predicted:0100d}", block=True, timer=TIMEOUT)
        bodies = results.get(timeout=TIMEOUT)
        assert [int(body) for body in bodies] == list(range(predicted + 1))
        child.join(TIMEOUT)
        assert child.exitcode == 0
        q.close()
    finally:
        if child.is_alive():
            child.kill()


def regular_writer(q, index, count, done):
    """Issue 13's pattern: blocking appends, reading after each one."""
    q.open(f"w{index}")
    for k in range(count):
        q.append("seq", f"{index}:{k}", block=True, timer=TIMEOUT)
        for _ in q:
            pass
    done.put(index)
    for _ in q(block=True, timer=1.0):  # the others may still need what it holds
        pass
    q.close()


def regular_reader(q, total, results):
    q.open("r")
    results.put([body for _, _, body in q(block=True, timer=5.0)][:total])
    q.close()


def test_writers_that_read_regularly_run_to_completion(nats_url):
    """Issue 13 on NATS: 3 writers with blocking appends that read after each one, 2
    readers, a 4 KiB queue; no writer fails and both readers get every message once, in
    one order."""
    writers, each = 3, 60
    q = PySyncQ(nats_url, size=4096)
    q.open("creator")  # keeps the queue alive until every member has opened
    ctx = mp.get_context("spawn")
    results, done = ctx.Queue(), ctx.Queue()
    readers = [ctx.Process(target=regular_reader, args=(q, writers * each, results))
               for _ in range(2)]
    for p in readers:
        p.start()
    deadline = time.monotonic() + TIMEOUT
    while q.stats().members < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    procs = [ctx.Process(target=regular_writer, args=(q, i, each, done)) for i in range(writers)]
    for p in procs:
        p.start()
    q.close()
    assert sorted(done.get(timeout=60) for _ in procs) == list(range(writers))
    orders = [results.get(timeout=60) for _ in readers]
    for p in procs + readers:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(f"{i}:{k}" for i in range(writers) for k in range(each))


def test_list_queues_and_unlink_take_a_nats_server_as_syncq_does(nats_server, nats_url):
    q = PySyncQ(nats_url, size=4096)
    server = nats_url.rsplit("/", 1)[0]
    assert nats_url in pysyncq.list_queues(server)
    assert nats_url not in pysyncq.list_queues()  # shared memory only
    pysyncq.unlink(nats_url)
    assert nats_url not in pysyncq.list_queues(server)
    with pytest.raises(FileNotFoundError):
        pysyncq.unlink(nats_url)
    with pytest.raises(ValueError):
        pysyncq.list_queues("/not-a-server")
    del q


def test_keyword_arguments_are_checked(nats_url):
    with pytest.raises(ValueError):
        PySyncQ(nats_url, storage="disk")
    with pytest.raises(ValueError):
        PySyncQ(nats_url, liveness=0)
    with pytest.raises(ValueError):
        PySyncQ(nats_url, replicas=7)
    with pytest.raises(ConnectionRefusedError):
        PySyncQ("nats://127.0.0.1:1/nobody")
    with pytest.raises(ValueError):
        PySyncQ("nats://127.0.0.1/bad.name")


def sleeper(q, ready):
    q.open("doomed")
    ready.set()
    time.sleep(TIMEOUT)


def test_a_killed_member_is_dropped_within_its_liveness(nats_url):
    context = mp.get_context("spawn")
    q = PySyncQ(nats_url, size=1 << 20, liveness=1.0)
    q.open("parent", filtself=False)
    ready = context.Event()
    child = context.Process(target=sleeper, args=(q, ready))
    child.start()
    assert ready.wait(TIMEOUT)
    for _ in range(100):
        q.append("t", "x" * 100)
    # The parent reads all of its own (a blocking pop each: a non-blocking one may miss a
    # message still on its way, which the parent would then hold): only the child holds them.
    for _ in range(100):
        assert q.pop(block=True, timer=TIMEOUT) is not None
    assert q.stats().used_bytes > 0
    os.kill(child.pid, signal.SIGKILL)
    child.join(TIMEOUT)
    start = time.monotonic()
    while q.stats().used_bytes != 0:
        assert time.monotonic() - start < 10, "never freed"
        time.sleep(0.02)
    assert time.monotonic() - start <= 1.0 + 1.0
    assert q.stats().members == 1
    q.close()


# --- servers that ask for a login ---


@pytest.fixture
def login_server(request):
    """A nats-server that wants a user and password (param "user") or a token ("token")."""
    if server_program() is None or not nats_built():
        pytest.skip("nats-server or NATS support missing")
    if request.param == "user":
        servers = NatsServers(1, ["--user", "alice", "--pass", "s3cret"], login="alice:s3cret@")
    else:
        servers = NatsServers(1, ["--auth", "t0ken"], access={"token": "t0ken"})
    yield servers
    servers.close()


def logged_in_child(q, ready):
    q.open("child")
    q.append("t", "logged in")
    ready.wait(TIMEOUT)  # stay a member until the parent has the message
    q.close()


@pytest.mark.parametrize("login_server", ["user", "token"], indirect=True)
def test_a_login_reaches_spawned_children_and_is_never_shown(login_server):
    name = f"py-login-{secrets.token_hex(4)}"
    if login_server.login:
        q = PySyncQ(login_server.url(name, "alice:s3cret@"), size=1 << 16, start="spawn")
        assert q.name == login_server.url(name, "alice:***@")
    else:
        q = PySyncQ(login_server.url(name), size=1 << 16, start="spawn", token="t0ken")
        assert q.name == login_server.url(name)
    assert "s3cret" not in repr(q) and "t0ken" not in repr(q)
    q.open("parent")
    context = mp.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=logged_in_child, args=(q, ready))
    child.start()
    assert q.pop(block=True, timer=TIMEOUT) == ("child", "t", "logged in")
    ready.set()
    child.join(TIMEOUT)
    assert child.exitcode == 0
    q.close()


def test_a_credentials_file_logs_in_to_an_operator_mode_server_and_reaches_children(tmp_path):
    """tests/nats/credentials.py makes an operator, accounts and a user (as nsc would)."""
    if server_program() is None or not nats_built():
        pytest.skip("nats-server or NATS support missing")
    script = pathlib.Path(__file__).resolve().parents[1] / "nats" / "credentials.py"
    made = subprocess.run(["/usr/bin/python3", str(script), str(tmp_path)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make credentials: {made.stderr.strip()}")
    creds = str(tmp_path / "user.creds")
    servers = NatsServers(1, ["-c", str(tmp_path / "server.conf")], access={"creds": creds})
    try:
        url = servers.url(f"py-creds-{secrets.token_hex(4)}")
        q = PySyncQ(url, size=1 << 16, start="spawn", creds=creds)
        q.open("parent")
        context = mp.get_context("spawn")
        ready = context.Event()
        child = context.Process(target=logged_in_child, args=(q, ready))
        child.start()
        assert q.pop(block=True, timer=TIMEOUT) == ("child", "t", "logged in")
        ready.set()
        child.join(TIMEOUT)
        assert child.exitcode == 0
        with pytest.raises(PermissionError):
            PySyncQ(url, create=False)  # no credentials: refused
        q.close()
    finally:
        servers.close()


@pytest.mark.parametrize("login_server", ["user", "token"], indirect=True)
def test_a_wrong_login_raises_permissionerror_naming_the_server(login_server):
    server = login_server.url("")[len("nats://"):-1]
    for wrong in (dict(name=login_server.url("q", "alice:wr0ng@")),
                  dict(name=login_server.url("q"), token="wr0ng"),
                  dict(name=login_server.url("q"))):
        with pytest.raises(PermissionError) as refused:
            PySyncQ(**wrong, create=False)
        assert server in str(refused.value)
        assert "wr0ng" not in str(refused.value) and "s3cret" not in str(refused.value)


def test_login_keywords_are_checked(nats_url):
    with pytest.raises(TypeError):
        PySyncQ(nats_url, tls="yes")
    with pytest.raises(TypeError):
        PySyncQ(nats_url, token=b"bytes")
    with pytest.raises(FileNotFoundError) as missing:
        PySyncQ(nats_url, creds=pathlib.Path("/nonexistent.creds"))
    assert "/nonexistent.creds" in str(missing.value)
    with pytest.raises(ValueError):
        PySyncQ(nats_url, tls_cert="/cert.pem")  # without its key


# --- C++ and Python processes on one queue ---


def _member_program():
    override = os.environ.get("SYNCQ_TEST_MEMBER")
    if override:
        return pathlib.Path(override)
    build = pathlib.Path(pysyncq.__file__).resolve().parent.parent.parent
    return build / "tests" / "cli" / "syncq_test_member"


def test_cpp_and_python_processes_share_one_nats_queue(nats_url):
    program = _member_program()
    if not program.is_file():
        pytest.skip(f"no C++ test member at {program} (set SYNCQ_TEST_MEMBER)")
    q = PySyncQ(nats_url, size=1 << 16)
    q.open("python")
    member = subprocess.Popen([str(program), nats_url, "cxx"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert member.stdout.readline().startswith("ready ")
        q.append("greeting", "from python")
        member.stdin.write("pop-wait 10\n")
        member.stdin.flush()
        sender, mtype, body = member.stdout.readline().split()[1:]
        assert bytes.fromhex(sender) == b"python"
        assert bytes.fromhex(body) == b"from python"
        member.stdin.write(f"append {b'reply'.hex()} {b'from c++'.hex()}\n")
        member.stdin.flush()
        assert member.stdout.readline().startswith("appended ")
        assert q.pop(block=True, timer=10) == ("cxx", "reply", "from c++")
        member.stdin.write("close\n")
        member.stdin.flush()
        assert member.stdout.readline().strip() == "closed"
        assert member.wait(TIMEOUT) == 0
    finally:
        if member.poll() is None:
            member.kill()
    q.close()


# --- a 3-node cluster, replicas=3, the stream leader killed ---


def counting_reader(q, ready, count, results):
    q.open()
    ready.wait(TIMEOUT)
    bodies = [m[2] for _, m in zip(range(count), q(block=True, timer=TIMEOUT))]
    results.put(bodies)
    q.close()


def test_the_guide_example_survives_a_killed_stream_leader_with_replicas_3():
    if skip_reason():
        pytest.skip(skip_reason())
    servers = NatsServers(3)
    try:
        name = f"py-leader-{secrets.token_hex(4)}"
        count = 300
        context = mp.get_context("fork")
        q = PySyncQ(servers.url(name), size=1 << 20, replicas=3, liveness=3.0)
        ready, results = context.Barrier(3), context.Queue()
        readers = [context.Process(target=counting_reader, args=(q, ready, count, results))
                   for _ in range(2)]
        for p in readers:
            p.start()
        q.open("writer")
        ready.wait(TIMEOUT)
        for k in range(count):
            if k == count // 3:
                servers.kill(servers.stream_leader(name))
            q.append("n", str(k), block=True, timer=TIMEOUT)
        for _ in readers:
            assert results.get(timeout=TIMEOUT * 2) == [str(k) for k in range(count)]
        for p in readers:
            p.join(TIMEOUT)
            assert p.exitcode == 0
        q.close()
    finally:
        servers.close()


# --- asyncio (the event-loop fd works on any backend) ---


def test_apop_and_aappend_work_on_a_nats_queue(nats_url):
    import asyncio

    async def scenario():
        q = PySyncQ(nats_url, size=1 << 16)
        q.open("async")
        other = PySyncQ(nats_url, create=False)
        other.open("other")
        waiter = asyncio.create_task(q.apop(timer=TIMEOUT))
        await asyncio.sleep(0.05)
        other.append("t", "wake")
        assert await waiter == ("other", "t", "wake")
        await q.aappend("t", "back", timer=5)
        assert other.pop(block=True, timer=10) == ("async", "t", "back")
        other.close()
        q.close()

    asyncio.run(scenario())
