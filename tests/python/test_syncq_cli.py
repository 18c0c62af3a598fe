"""syncq end to end: the real binary against real queues with live, blocked and killed
members (issue 7; the manual is docs/cli.md).

Members are the scriptable C++ helper tests/cli/member.cpp (syncq_test_member), so
these tests do not depend on the Python package; the interop tests at the end use the
package too. Every wait is a handshake (a line from a process, or a state seen by
`syncq stat`) bounded by a generous timeout; nothing asserts on timing.

The binaries: $SYNCQ (default build/cli/syncq) and $SYNCQ_TEST_MEMBER (default
tests/cli/syncq_test_member in the same build tree).
"""

import json
import os
import pathlib
import queue as queue_module
import secrets
import select
import signal
import stat as stat_module
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYNCQ = pathlib.Path(os.environ.get("SYNCQ", ROOT / "build" / "cli" / "syncq"))
MEMBER = pathlib.Path(
    os.environ.get("SYNCQ_TEST_MEMBER", SYNCQ.parent.parent / "tests" / "cli" / "syncq_test_member")
)
SHM = pathlib.Path("/dev/shm")
TIMEOUT = 30.0  # seconds: only a hung test ever waits this long
VERBS = ["ls", "stat", "tail", "send", "reap", "rm", "create"]
LS_KEYS = [
    "name", "capacity_bytes", "used_bytes", "queued_messages", "max_members", "members",
    "dead_members", "reaped_total", "lock_recoveries", "segment_bytes", "unlinked",
]
MEMBER_KEYS = [
    "slot", "pid", "sender", "alive", "unread_messages", "unread_bytes", "backlog_messages",
    "backlog_bytes", "waiting", "waiting_ns",
]


@pytest.fixture(scope="module", autouse=True)
def binaries_exist():
    """Fails (never skips) when the build is missing: a skipped CLI suite proves nothing."""
    assert SYNCQ.is_file(), f"no syncq binary at {SYNCQ} (build first, or set SYNCQ)"
    assert MEMBER.is_file(), f"no test member at {MEMBER} (set SYNCQ_TEST_MEMBER)"


# --- helpers ---


def syncq(*args, input=None, umask=None):
    """Runs syncq to completion; returns the CompletedProcess (bytes out and err)."""
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(
        [str(SYNCQ), *args], input=input, capture_output=True, timeout=TIMEOUT,
        preexec_fn=preexec,
    )


def syncq_ok(*args, input=None):
    """Runs syncq, asserts status 0 and an empty stderr, returns stdout as text."""
    done = syncq(*args, input=input)
    assert done.returncode == 0, (args, done.returncode, done.stderr)
    assert done.stderr == b"", (args, done.stderr)
    return done.stdout.decode()


def ls(*args, ours=()):
    """Runs `syncq ls`; returns stdout. Other suites may be making or crashing queues on
    this machine at the same time, so ls may warn about (and skip) a queue that is not
    ours (the status stays 0: the listing was made); nothing may be said about ours."""
    done = syncq("ls", *args)
    for line in done.stderr.decode().splitlines():
        assert line.startswith("syncq ls: skipping '"), line
        assert not any(f"'{name}'" in line for name in ours), line
    assert done.returncode == 0, done
    return done.stdout.decode()


def stat_json(name):
    return json.loads(syncq_ok("stat", "--json", name))


def wait_for_stat(name, predicate, what):
    """Polls `syncq stat --json` until predicate(stats) holds: a handshake on queue state
    for things only the queue can tell (a member asleep). Fails after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        stats = stat_json(name)
        if predicate(stats):
            return stats
        assert time.monotonic() < deadline, f"never saw {what}; last: {stats}"
        time.sleep(0.01)  # poll interval only; correctness never depends on it


def member_row(stats, pid):
    rows = [m for m in stats["member_list"] if m["pid"] == pid]
    assert len(rows) == 1, stats
    return rows[0]


class Lines:
    """Reads a stream line by line in a thread, so a test can wait for a line with a
    timeout instead of blocking for ever."""

    def __init__(self, stream):
        self._lines = queue_module.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in iter(stream.readline, b""):
            self._lines.put(line)
        self._lines.put(None)  # end of stream

    def next(self):
        """The next line (bytes, with its newline), or None at end of stream."""
        try:
            return self._lines.get(timeout=TIMEOUT)
        except queue_module.Empty:
            pytest.fail(f"no line within {TIMEOUT} s")

    def join(self):
        """Waits for the pumping thread (the stream must be at its end)."""
        self._thread.join(TIMEOUT)

    def rest(self):
        """Every line until end of stream."""
        out = []
        while (line := self.next()) is not None:
            out.append(line)
        return out


def hex_of(data: bytes) -> str:
    return data.hex() if data else "-"


class Member:
    """A syncq_test_member process registered on a queue (see tests/cli/member.cpp)."""

    def __init__(self, name, sender):
        self.sender = sender
        self.proc = subprocess.Popen(
            [str(MEMBER), name, sender], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        self.out = Lines(self.proc.stdout)
        ready = self.ask(None)
        assert ready.startswith("ready "), ready
        self.pid = int(ready.split()[1])

    def ask(self, command):
        """Sends one command line (None: send nothing) and returns the answer line."""
        if command is not None:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        line = self.out.next()
        assert line is not None, f"member {self.sender} exited (status {self.proc.wait()})"
        return line.decode().rstrip("\n")

    def send_only(self, command):
        """Sends a command whose answer comes later (a blocking one); read it with answer()."""
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def answer(self):
        return self.ask(None)

    def append(self, mtype: bytes, body: bytes) -> int:
        """Appends without waiting; returns the message's footprint in bytes."""
        reply = self.ask(f"append {hex_of(mtype)} {hex_of(body)}")
        assert reply.startswith("appended "), reply
        return int(reply.split()[1])

    def pop(self, wait=None):
        """(sender, type, body) as bytes, or None."""
        reply = self.ask("pop" if wait is None else f"pop-wait {wait}")
        if reply == "none":
            return None
        verb, *fields = reply.split()
        assert verb == "message", reply
        return tuple(b"" if f == "-" else bytes.fromhex(f) for f in fields)

    def drain(self):
        reply = self.ask("drain")
        assert reply.startswith("drained "), reply
        return int(reply.split()[1])

    def close(self):
        assert self.ask("close") == "closed"
        assert self.proc.wait(timeout=TIMEOUT) == 0

    def kill(self):
        """SIGKILL, then reap the zombie, so the queue sees a dead process."""
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def names():
    """new(tag) -> a fresh queue name; every segment of those names is removed after."""
    made = []

    def new(tag="q"):
        name = f"pysyncq-test-cli-{tag}-{os.getpid()}-{secrets.token_hex(4)}"
        made.append(name)
        return name

    yield new
    for name in made:
        (SHM / name).unlink(missing_ok=True)


@pytest.fixture
def members():
    """start(name, sender) -> Member; members still running after the test are killed."""
    started = []

    def start(name, sender):
        member = Member(name, sender)
        started.append(member)
        return member

    yield start
    for member in started:
        if member.proc.poll() is None:
            member.kill()
        member.out.join()  # EOF after the exit; then closing cannot race the reader
        for stream in (member.proc.stdin, member.proc.stdout):
            stream.close()


def create(name, size="4096", *extra):
    syncq_ok("create", name, "--size", size, *extra)


class Tail:
    """A running `syncq tail`, ready once it said it is following (registered)."""

    def __init__(self, name, *args):
        self.proc = subprocess.Popen(
            [str(SYNCQ), "tail", name, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)
        notice = self.err.next()
        assert notice is not None and b"following" in notice, notice

    def stop(self, sig=signal.SIGINT):
        """Signals tail; returns (status, remaining stdout lines, remaining stderr)."""
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=TIMEOUT)
        return status, self.out.rest(), b"".join(self.err.rest())


@pytest.fixture
def tails():
    started = []

    def start(name, *args):
        tail = Tail(name, *args)
        started.append(tail)
        return tail

    yield start
    for tail in started:
        if tail.proc.poll() is None:
            tail.proc.kill()
            tail.proc.wait(timeout=TIMEOUT)
        tail.out.join()
        tail.err.join()
        tail.proc.stdout.close()
        tail.proc.stderr.close()


# --- help, usage and exit codes ---


@pytest.mark.parametrize("verb", VERBS)
def test_every_subcommand_has_help_on_stdout_with_status_0(verb):
    done = syncq(verb, "--help")
    assert done.returncode == 0
    assert done.stderr == b""
    assert f"Usage: syncq {verb} [OPTIONS]".encode() in done.stdout


def test_top_level_help_lists_every_subcommand_and_the_exit_codes():
    out = syncq_ok("--help")
    for verb in VERBS:
        assert f"\n  {verb} " in out
    assert "0 success, 1 runtime failure" in out and "2 usage error" in out


def test_tail_help_says_its_close_may_unlink_the_queue():
    out = " ".join(syncq_ok("tail", "--help").split())
    assert "tail's close unlinks the queue when tail is the last member" in out


def test_send_help_documents_the_refusal_without_live_members():
    out = " ".join(syncq_ok("send", "--help").split())
    assert "Refuses (exit 1) when no live process other than syncq is registered" in out


def test_version_prints_the_project_version():
    assert syncq_ok("--version").strip() == "0.1.0"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["stat"],
        ["stat", "a", "b"],
        ["ls", "--bogus"],
        ["send", "only-a-name"],
        ["send", "q", "t", "--timeout", "soon"],
        ["send", "q", "t", "--timeout", "-1"],
        ["create", "q"],
        ["create", "q", "--size", "12Q"],
        ["create", "q", "--size", "4096", "--mode", "0999"],
        ["create", "q", "--size", "4096", "--mode", "4755"],
        ["create", "q", "--size", "4096", "--max-members", "0"],
        ["tail", "q", "--count", "0"],
    ],
)
def test_usage_errors_exit_2_with_a_message_on_stderr(args):
    done = syncq(*args)
    assert done.returncode == 2, done
    assert done.stdout == b""
    assert done.stderr.startswith(b"syncq"), done.stderr
    assert b"--help" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["stat", "{q}"],
        ["stat", "--json", "{q}"],
        ["tail", "{q}"],
        ["send", "{q}", "t", "b"],
        ["reap", "{q}"],
        ["rm", "{q}"],
        ["rm", "--force", "{q}"],
    ],
)
def test_a_missing_queue_is_a_runtime_error_with_status_1(names, args):
    name = names("missing")
    done = syncq(*[a.replace("{q}", name) for a in args])
    assert done.returncode == 1
    assert done.stdout == b""
    assert done.stderr == f"syncq: queue '{name}' does not exist\n".encode()


# --- create ---


def test_create_makes_an_empty_queue_of_the_size_and_exact_mode(names):
    name = names("create")
    # --mode applies exactly, as mkdir -m does: a restrictive umask does not narrow it.
    done = syncq("create", name, "--size", "64K", "--mode", "0660", "--max-members", "7",
                 umask=0o077)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert stat_module.S_IMODE((SHM / name).stat().st_mode) == 0o660
    stats = stat_json(name)
    assert stats["capacity_bytes"] == 65536
    assert stats["max_members"] == 7
    assert (stats["members"], stats["used_bytes"], stats["member_list"]) == (0, 0, [])


def test_create_defaults_to_mode_0600_and_rounds_capacity_up_to_8(names):
    name = names("round")
    create(name, "4097")
    assert stat_module.S_IMODE((SHM / name).stat().st_mode) == 0o600
    assert stat_json(name)["capacity_bytes"] == 4104


def test_create_refuses_a_taken_name_and_too_small_a_size(names):
    name = names("taken")
    create(name)
    done = syncq("create", name, "--size", "4096")
    assert done.returncode == 1
    assert done.stderr == f"syncq: '{name}' already exists in /dev/shm\n".encode()
    small = names("small")
    done = syncq("create", small, "--size", "8")
    assert done.returncode == 1
    assert b"too small" in done.stderr
    assert not (SHM / small).exists()


# --- ls ---


def test_ls_lists_queues_with_aligned_columns_and_ignores_other_segments(names, members):
    first, second = names("ls-a"), names("ls-b")
    create(first, "4096")
    create(second, "8K")
    members(second, "reader")
    footprint = members(second, "writer").append(b"t", b"hello")
    not_queues = [names("not-a-queue"), names("empty-segment")]
    (SHM / not_queues[0]).write_bytes(os.urandom(4096))
    (SHM / not_queues[1]).write_bytes(b"")

    out = ls(ours=[first, second])
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CAPACITY", "USED", "MESSAGES", "MEMBERS", "DEAD"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows[first] == ["4096", "0", "0", "0", "0"]
    assert rows[second] == ["8192", str(footprint), "1", "2", "0"]
    for other in not_queues:
        assert other not in out
    # Aligned: numbers are right-aligned, so every line ends in the same column.
    assert len({len(line) for line in lines}) == 1, out


def test_ls_json_is_an_array_of_objects_with_exact_keys(names):
    name = names("ls-json")
    create(name, "4096", "--max-members", "3")
    not_queue = names("not-a-queue")
    (SHM / not_queue).write_bytes(b"\0" * 64)
    listed = json.loads(ls("--json", ours=[name]))
    assert isinstance(listed, list)
    ours = [entry for entry in listed if entry["name"] == name]
    assert len(ours) == 1
    assert list(ours[0].keys()) == LS_KEYS
    segment_bytes = ours[0]["segment_bytes"]
    assert isinstance(segment_bytes, int) and segment_bytes > 4096
    assert ours[0] == {
        "name": name, "capacity_bytes": 4096, "used_bytes": 0, "queued_messages": 0,
        "max_members": 3, "members": 0, "dead_members": 0, "reaped_total": 0,
        "lock_recoveries": 0, "segment_bytes": segment_bytes, "unlinked": False,
    }
    assert not any(entry["name"] == not_queue for entry in listed)
    assert segment_bytes == (SHM / name).stat().st_size


# --- stat ---


def test_stat_json_has_exact_keys_and_values(names, members):
    name = names("stat-json")
    create(name, "4096")
    alpha = members(name, "alpha")
    beta = members(name, "beta")
    footprint = alpha.append(b"greeting", b"hello")
    assert beta.pop() == (b"alpha", b"greeting", b"hello")

    stats = stat_json(name)
    assert list(stats.keys()) == LS_KEYS + ["member_list"]
    assert [list(m.keys()) for m in stats["member_list"]] == [MEMBER_KEYS, MEMBER_KEYS]
    assert stats == {
        "name": name, "capacity_bytes": 4096, "used_bytes": footprint, "queued_messages": 1,
        "max_members": 256, "members": 2, "dead_members": 0, "reaped_total": 0,
        "lock_recoveries": 0, "segment_bytes": (SHM / name).stat().st_size, "unlinked": False,
        "member_list": [
            {"slot": 0, "pid": alpha.pid, "sender": "alpha", "alive": True,
             "unread_messages": 1, "unread_bytes": footprint, "backlog_messages": 0,
             "backlog_bytes": 0, "waiting": "none", "waiting_ns": 0},
            {"slot": 1, "pid": beta.pid, "sender": "beta", "alive": True,
             "unread_messages": 0, "unread_bytes": 0, "backlog_messages": 0,
             "backlog_bytes": 0, "waiting": "none", "waiting_ns": 0},
        ],
    }


def test_stat_human_output_shows_geometry_counters_and_a_row_per_member(names, members):
    name = names("stat-human")
    create(name, "4096")
    alpha = members(name, "alpha")
    footprint = alpha.append(b"t", b"body")
    out = syncq_ok("stat", name)
    assert f"queue            {name}\n" in out
    assert "capacity         4096 bytes (segment " in out
    assert f"used             {footprint} bytes, 1 message queued\n" in out
    assert "members          1 of 256 registered, 0 dead (not yet reaped)\n" in out
    header, row = out.split("\n\n")[1].splitlines()
    assert header.split() == ["SLOT", "PID", "SENDER", "STATE", "UNREAD", "UNREAD_BYTES",
                              "BACKLOG", "WAITING"]
    assert row.split() == ["0", str(alpha.pid), "alpha", "alive", "1", str(footprint), "0", "-"]


def test_stat_shows_a_killed_member_as_dead_with_its_lag_and_reap_frees_its_space(
        names, members):
    name = names("killed")
    create(name, "4096")
    victim = members(name, "victim")
    writer = members(name, "writer")
    sizes = [writer.append(b"t", b"first"), writer.append(b"t", b"second message")]
    assert writer.drain() == 2  # only the victim holds the messages back now
    victim.kill()

    stats = stat_json(name)
    assert (stats["members"], stats["dead_members"]) == (2, 1)
    assert stats["used_bytes"] == sum(sizes)
    assert stats["queued_messages"] == 2
    dead = member_row(stats, victim.pid)
    assert (dead["alive"], dead["unread_messages"], dead["unread_bytes"]) == (False, 2, sum(sizes))
    assert member_row(stats, writer.pid)["alive"] is True
    human = syncq_ok("stat", name)
    assert "2 of 256 registered, 1 dead (not yet reaped)" in human
    dead_rows = [line.split() for line in human.splitlines() if f" {victim.pid} " in line]
    assert dead_rows == [["0", str(victim.pid), "victim", "dead", "2", str(sum(sizes)), "0", "-"]]
    # Looking never reaps: a second look still sees the dead member.
    assert stat_json(name)["dead_members"] == 1

    assert syncq_ok("reap", name) == f"reaped 1 dead member of queue '{name}'\n"
    stats = stat_json(name)
    assert (stats["members"], stats["dead_members"], stats["reaped_total"]) == (1, 0, 1)
    assert (stats["used_bytes"], stats["queued_messages"]) == (0, 0)
    assert syncq_ok("reap", name) == f"reaped 0 dead members of queue '{name}'\n"
    writer.close()
    assert not (SHM / name).exists()  # the last close unlinked it


def test_stat_shows_what_a_blocked_member_waits_for(names, members):
    name = names("waiting")
    create(name, "256")
    reader = members(name, "reader")
    writer = members(name, "writer")

    reader.send_only(f"pop-wait {TIMEOUT}")
    stats = wait_for_stat(name, lambda s: member_row(s, reader.pid)["waiting"] == "message",
                          "the reader asleep for a message")
    assert member_row(stats, writer.pid)["waiting"] == "none"
    row = [line for line in syncq_ok("stat", name).splitlines() if f" {reader.pid} " in line]
    assert len(row) == 1 and "for message " in row[0]
    writer.append(b"wake", b"up")
    assert reader.answer() == f"message {hex_of(b'writer')} {hex_of(b'wake')} {hex_of(b'up')}"
    writer.drain()  # both cursors at the tail: the ring is all free

    while writer.ask(f"append {hex_of(b't')} {hex_of(b'y' * 40)}") != "full":
        pass
    writer.drain()  # the reader alone holds the space now, and is not blocked: no deadlock
    assert stat_json(name)["used_bytes"] == 256  # full: the next append must wait
    writer.send_only(f"append-block {hex_of(b't')} {hex_of(b'z')}")
    wait_for_stat(name, lambda s: member_row(s, writer.pid)["waiting"] == "space",
                  "the writer asleep for space")
    row = [line for line in syncq_ok("stat", name).splitlines() if f" {writer.pid} " in line]
    assert len(row) == 1 and "for space " in row[0]
    reader.drain()
    assert writer.answer().startswith("appended ")
    stats = stat_json(name)
    assert member_row(stats, writer.pid)["waiting"] == "none"
    assert member_row(stats, writer.pid)["waiting_ns"] == 0


# --- send ---


def test_send_appends_one_message_that_a_member_reads(names, members):
    name = names("send")
    create(name, "4096")
    reader = members(name, "reader")
    assert syncq_ok("send", name, "greeting", "hello wörld") == ""
    assert reader.pop() == (b"syncq-send", b"greeting", "hello wörld".encode())
    syncq_ok("send", name, "empty", "--as", "ops")
    assert reader.pop() == (b"ops", b"empty", b"")
    assert reader.pop() is None
    stats = stat_json(name)
    assert (stats["members"], stats["used_bytes"]) == (1, 0)  # send closed its registration


def test_send_reads_the_body_from_stdin_bytes_unchanged(names, members):
    name = names("send-stdin")
    create(name, "4096")
    reader = members(name, "reader")
    body = b"line one\nline two\t\xff\xfe\x00 end"
    syncq_ok("send", name, "blob", "-", input=body)
    assert reader.pop() == (b"syncq-send", b"blob", body)


def test_send_refuses_when_no_live_member_could_read_and_keeps_the_queue(names, members):
    name = names("send-idle")
    create(name, "4096")
    done = syncq("send", name, "t", "nobody hears this")
    assert done.returncode == 1
    assert b"has no live member to read the message; nothing sent" in done.stderr
    assert (SHM / name).exists()
    members(name, "gone").kill()  # a dead member is no reader either
    done = syncq("send", name, "t", "b")
    assert done.returncode == 1
    assert b"has no live member" in done.stderr
    assert (SHM / name).exists()
    assert stat_json(name)["dead_members"] == 1  # refusing touched nothing


def test_send_to_a_full_queue_fails_at_once_or_after_its_block_timeout(names, members):
    name = names("send-full")
    create(name, "128")
    reader = members(name, "reader")
    while syncq("send", name, "t", "x" * 40).returncode == 0:
        pass
    done = syncq("send", name, "t", "x" * 40)
    assert done.returncode == 1
    assert done.stderr.startswith(f"syncq: queue '{name}' is full: append needs ".encode())
    done = syncq("send", name, "t", "x" * 40, "--block", "--timeout", "0.05")
    assert done.returncode == 1
    assert b"(wait timed out)" in done.stderr
    done = syncq("send", name, "t", "x" * 400)
    assert done.returncode == 1
    assert b"can never fit" in done.stderr
    stats = stat_json(name)
    assert stats["members"] == 1  # every failed send closed its registration
    assert reader.drain() >= 1


def test_send_block_without_timeout_waits_until_space_is_freed(names, members):
    name = names("send-block")
    create(name, "128")
    reader = members(name, "reader")
    syncq_ok("send", name, "t", "x" * 40)  # 72 of 128 bytes: the next one must wait
    sender = subprocess.Popen([str(SYNCQ), "send", name, "late", "x" * 40, "--timeout", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stat(name, lambda s: any(m["sender"] == "syncq-send" and m["waiting"] == "space"
                                          for m in s["member_list"]),
                      "syncq send asleep for space")
        # Read exactly the one message that fills the queue (a drain could race the
        # waking sender and swallow its message too).
        assert reader.pop() == (b"syncq-send", b"t", b"x" * 40)
        out, err = sender.communicate(timeout=TIMEOUT)
        assert (sender.returncode, out, err) == (0, b"", b"")
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.communicate()
    assert reader.pop() == (b"syncq-send", b"late", b"x" * 40)


def test_ctrl_c_on_a_blocked_send_closes_and_sends_nothing(names, members):
    name = names("send-int")
    create(name, "128")
    reader = members(name, "reader")
    while syncq("send", name, "t", "x" * 40).returncode == 0:
        pass
    sender = subprocess.Popen([str(SYNCQ), "send", name, "late", "x" * 40, "--block",
                               "--timeout", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stat(name, lambda s: any(m["sender"] == "syncq-send" and m["waiting"] == "space"
                                          for m in s["member_list"]),
                      "syncq send asleep for space")
        sender.send_signal(signal.SIGINT)
        out, err = sender.communicate(timeout=TIMEOUT)
        assert sender.returncode == 1
        assert err == b"syncq: interrupted while waiting for space; nothing sent\n"
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.communicate()
    stats = stat_json(name)
    assert (stats["members"], stats["dead_members"]) == (1, 0)  # closed, not left dead
    bodies = []
    while (message := reader.pop()) is not None:
        bodies.append(message[1])
    assert b"late" not in bodies


# --- tail ---


def test_tail_prints_each_message_a_member_appends_with_escapes(names, members, tails):
    name = names("tail")
    create(name, "4096")
    writer = members(name, "writer")
    tail = tails(name)
    writer.append(b"greeting", "hello wörld".encode())
    assert tail.out.next() == "writer\tgreeting\thello wörld\n".encode()
    writer.append(b"bin", b"a\xffb\n\tc\\d\x01")
    assert tail.out.next() == b"writer\tbin\ta\\xffb\\n\\tc\\\\d\\x01\n"
    writer.append(b"", b"")
    assert tail.out.next() == b"writer\t\t\n"
    status, rest, err = tail.stop(signal.SIGINT)
    assert (status, rest, err) == (0, [], b"")
    stats = stat_json(name)
    assert (stats["members"], stats["dead_members"]) == (1, 0)  # tail closed, not dead


def test_tail_filters_by_type_and_sender(names, members, tails):
    name = names("tail-filter")
    create(name, "4096")
    alpha = members(name, "alpha")
    beta = members(name, "beta")
    tail = tails(name, "--type", "keep", "--type", "also", "--sender", "alpha", "--count", "3")
    alpha.append(b"keep", b"1")
    beta.append(b"keep", b"not from alpha")
    alpha.append(b"drop", b"wrong type")
    alpha.append(b"also", b"2")
    alpha.append(b"keep", b"3")
    assert tail.proc.wait(timeout=TIMEOUT) == 0  # --count 3: exits by itself
    assert tail.out.rest() == [b"alpha\tkeep\t1\n", b"alpha\talso\t2\n", b"alpha\tkeep\t3\n"]
    assert stat_json(name)["members"] == 2


def test_tail_raw_prints_bodies_unchanged(names, members, tails):
    name = names("tail-raw")
    create(name, "4096")
    writer = members(name, "writer")
    tail = tails(name, "--raw", "-n", "2")
    writer.append(b"t", b"a\xffb\tc\\")
    writer.append(b"t", b"{\"json\": true}")
    assert tail.proc.wait(timeout=TIMEOUT) == 0
    assert tail.out.rest() == [b"a\xffb\tc\\\n", b"{\"json\": true}\n"]


def test_tail_registers_under_its_as_name_and_quiet_prints_no_notice(names, members):
    name = names("tail-as")
    create(name, "4096")
    writer = members(name, "writer")
    proc = subprocess.Popen([str(SYNCQ), "tail", name, "--as", "watcher", "-q", "-n", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stat(name, lambda s: any(m["sender"] == "watcher" for m in s["member_list"]),
                      "tail registered as 'watcher'")
        writer.append(b"t", b"b")
        out, err = proc.communicate(timeout=TIMEOUT)
        assert (proc.returncode, out, err) == (0, b"writer\tt\tb\n", b"")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tail_with_status_0_and_closes_its_registration(names, members, tails, sig):
    name = names("tail-signal")
    create(name, "4096")
    writer = members(name, "writer")
    tail = tails(name)
    wait_for_stat(name, lambda s: any(m["sender"] == "syncq-tail" and m["waiting"] == "message"
                                      for m in s["member_list"]),
                  "tail asleep for a message")
    status, rest, err = tail.stop(sig)
    assert (status, rest, err) == (0, [], b"")
    stats = stat_json(name)
    assert [m["sender"] for m in stats["member_list"]] == ["writer"]
    assert stats["dead_members"] == 0
    writer.close()


def test_tail_that_is_the_last_member_unlinks_the_queue_when_stopped(names, tails):
    name = names("tail-last")
    create(name, "4096")
    tail = tails(name)
    assert stat_json(name)["members"] == 1
    status, _, _ = tail.stop(signal.SIGINT)
    assert status == 0
    assert not (SHM / name).exists()  # the defined behaviour, stated in tail --help


def test_tail_closes_when_its_reader_goes_away(names, members):
    name = names("tail-pipe")
    create(name, "4096")
    writer = members(name, "writer")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([str(SYNCQ), "tail", name], stdout=write_end,
                            stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        assert b"following" in proc.stderr.readline()
        writer.append(b"t", b"seen")
        with os.fdopen(read_end, "rb", buffering=0) as reader:
            read_end = None
            ready, _, _ = select.select([reader], [], [], TIMEOUT)
            assert ready, "tail printed nothing"
            assert reader.read(4096) == b"writer\tt\tseen\n"
        # Our end is closed, like `syncq tail q | head -1` once head exits.
        writer.append(b"t", b"nobody reads this line")
        assert proc.wait(timeout=TIMEOUT) == 0
        assert proc.stderr.read() == b""
    finally:
        if read_end is not None:
            os.close(read_end)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    stats = stat_json(name)
    assert [m["sender"] for m in stats["member_list"]] == ["writer"]


# --- rm and reap ---


def test_rm_refuses_while_live_members_are_registered_unless_forced(names, members):
    name = names("rm")
    create(name, "4096")
    live = members(name, "live")
    done = syncq("rm", name)
    assert done.returncode == 1
    assert done.stderr == (f"syncq: queue '{name}' has 1 live member (pid {live.pid}); "
                           "not removed (--force removes it anyway)\n").encode()
    assert (SHM / name).exists()
    assert syncq_ok("rm", "--force", name) == ""
    assert not (SHM / name).exists()
    # The member goes on using the removed segment and closes without error.
    live.append(b"t", b"still works")
    live.close()


def test_rm_removes_a_queue_whose_members_are_all_dead(names, members):
    name = names("rm-dead")
    create(name, "4096")
    members(name, "gone").kill()
    assert syncq_ok("rm", name) == ""
    assert not (SHM / name).exists()


def test_rm_refuses_segments_that_are_not_queues_and_goes_on_with_the_rest(names):
    not_queue, missing, queue = names("not-a-queue"), names("missing"), names("rm-ok")
    (SHM / not_queue).write_bytes(b"not a queue, but someone's data" * 10)
    create(queue, "4096")
    done = syncq("rm", not_queue, missing, queue)
    assert done.returncode == 1
    err = done.stderr.decode().splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"syncq: shared memory '{not_queue}' is not a pysyncq queue")
    assert err[1] == f"syncq: queue '{missing}' does not exist"
    assert (SHM / not_queue).exists()
    assert not (SHM / queue).exists()


def test_stat_refuses_a_segment_that_is_not_a_queue(names):
    not_queue = names("not-a-queue")
    (SHM / not_queue).write_bytes(b"\x01" * 4096)
    done = syncq("stat", not_queue)
    assert done.returncode == 1
    assert done.stderr.startswith(f"syncq: shared memory '{not_queue}' is not a pysyncq".encode())


# --- interop with the Python package ---


def python_env():
    """Environment for a child Python that imports the same pysyncq as this test."""
    pysyncq = pytest.importorskip(
        "pysyncq", reason="the Python package (build/python) is not built or not importable")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pathlib.Path(pysyncq.__file__).resolve().parent.parent)
    return env


PY_READER = """
import sys
from pysyncq import PySyncQ
q = PySyncQ(sys.argv[1], create=False)
q.open("py-reader")
print("ready", flush=True)
m = q.pop(block=True, timer=30.0)
print(repr(m), flush=True)
m = q.pop(block=True, timer=30.0, decode=False)
print(repr(m), flush=True)
q.close()
"""

PY_WRITER = """
import sys
from pysyncq import PySyncQ
q = PySyncQ(sys.argv[1], create=False)
q.open("py-writer")
print("ready", flush=True)
sys.stdin.readline()
q.append("greeting", "hello from Python, wörld")
q.append("bytes", b"\\xff\\x00raw")
sys.stdin.readline()
q.close()
print("closed", flush=True)
"""


def test_a_message_sent_with_syncq_send_is_read_by_a_python_process(names):
    env = python_env()
    name = names("py-read")
    create(name, "4096")
    reader = subprocess.Popen([sys.executable, "-c", PY_READER, name], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = Lines(reader.stdout)
        assert out.next() == b"ready\n"
        syncq_ok("send", name, "greeting", "hello from syncq, wörld")
        syncq_ok("send", name, "blob", "-", input=b"\xff\x00raw")
        assert out.next().decode() == repr(("syncq-send", "greeting", "hello from syncq, wörld")) + "\n"
        assert out.next().decode() == repr((b"syncq-send", b"blob", b"\xff\x00raw")) + "\n"
        assert reader.wait(timeout=TIMEOUT) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
        reader.stdout.close()
        reader.stderr.close()
    assert not (SHM / name).exists()  # the Python reader was the last member to close


def test_syncq_tail_prints_what_a_python_process_appends(names, tails):
    env = python_env()
    name = names("py-tail")
    create(name, "4096")
    writer = subprocess.Popen([sys.executable, "-c", PY_WRITER, name], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        out = Lines(writer.stdout)
        assert out.next() == b"ready\n"
        tail = tails(name)
        writer.stdin.write(b"append\n")
        writer.stdin.flush()
        assert tail.out.next() == "py-writer\tgreeting\thello from Python, wörld\n".encode()
        assert tail.out.next() == b"py-writer\tbytes\t\\xff\\x00raw\n"
        status, rest, err = tail.stop(signal.SIGINT)
        assert (status, rest, err) == (0, [], b"")
        writer.stdin.write(b"close\n")
        writer.stdin.flush()
        assert out.next() == b"closed\n"
        assert writer.wait(timeout=TIMEOUT) == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        for stream in (writer.stdin, writer.stdout, writer.stderr):
            stream.close()
    assert not (SHM / name).exists()
