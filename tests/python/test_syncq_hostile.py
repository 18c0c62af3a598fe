"""A hostile local user and other programs' files in /dev/shm (issue 15), end to end:
syncq and the Python package against FIFOs, files that only start with the magic,
thousands of foreign files, names and messages that carry terminal escapes, a squatter's
segment, a removal that is refused, and a forged lock word.

Every wait is bounded by a generous timeout (a hang fails, never blocks the suite);
nothing asserts on timing. docs/failures.md, "A hostile local user", names these tests.
"""

import ctypes
import mmap
import os
import pathlib
import pwd
import random
import secrets
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYNCQ = pathlib.Path(os.environ.get("SYNCQ", ROOT / "build" / "cli" / "syncq"))
SHM = pathlib.Path("/dev/shm")
TIMEOUT = 60.0  # seconds: only a hang ever waits this long
MAGIC = b"PYYSYNQ1"
ESC = b"\x1b"


@pytest.fixture(scope="module", autouse=True)
def syncq_exists():
    assert SYNCQ.is_file(), f"no syncq binary at {SYNCQ} (build first, or set SYNCQ)"


@pytest.fixture
def shm_files():
    """Makes files in /dev/shm (name -> kind) and removes every one of them afterwards."""
    made = []

    def make(name, kind="random", size=4096):
        path = SHM / name
        if kind == "fifo":
            os.mkfifo(path, 0o600)
        else:
            data = {
                "zero": b"\0" * size,
                "random": os.urandom(size),
                "empty": b"",
                "magic": MAGIC + b"\0" * (size - len(MAGIC)),
            }[kind]
            path.write_bytes(data)
        made.append(path)
        return name

    yield make
    for path in made:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


@pytest.fixture
def names():
    """Fresh queue names; what is left of them in /dev/shm is removed afterwards."""
    made = []

    def make(tag, suffix=""):
        name = f"pysyncq-test-hostile-{tag}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        made.append(name)
        return name

    yield make
    for name in made:
        try:
            (SHM / name).unlink()
        except FileNotFoundError:
            pass


def syncq(*args, user=None):
    """Runs syncq (as `user`, a pwd entry, if given); returns the CompletedProcess."""
    preexec = None
    if user is not None:
        def preexec():
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
    return subprocess.run([str(SYNCQ), *args], capture_output=True, timeout=TIMEOUT,
                          preexec_fn=preexec)


def nobody():
    if os.geteuid() != 0:
        pytest.skip("needs root, to act as a second user")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def pysyncq_or_skip():
    return pytest.importorskip("pysyncq", reason="the Python package (build/python) is not built")


def in_child_python(code, *args):
    """Runs `code` in a fresh /usr/bin/python3 that imports the same pysyncq; a hang is
    killed by the timeout (and fails the test) instead of hanging the suite."""
    pysyncq = pysyncq_or_skip()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pathlib.Path(pysyncq.__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          timeout=TIMEOUT, env=env)


# --- finding 1: a FIFO ---


def test_a_fifo_in_dev_shm_does_not_hang_ls_or_list_queues(shm_files, names):
    fifo = shm_files(names("fifo"), "fifo")
    queue = names("beside-fifo")
    assert syncq("create", queue, "-s", "4096").returncode == 0
    done = syncq("ls")
    assert done.returncode == 0, done
    assert queue in done.stdout.decode() and fifo not in done.stdout.decode()
    listed = in_child_python("import pysyncq; print('\\n'.join(pysyncq.list_queues()))")
    assert listed.returncode == 0, listed
    assert queue in listed.stdout.decode().split() and fifo not in listed.stdout.decode()
    # Attaching by name to a FIFO is refused at once, never blocked on.
    done = syncq("stat", fifo)
    assert done.returncode == 1 and b"not a regular file" in done.stderr, done


# --- finding 2: files that only start with the magic ---


def test_files_that_only_start_with_the_magic_are_skipped_and_never_waited_on(shm_files, names):
    junk = [shm_files(names(f"magic-{i}"), "magic") for i in range(21)]
    # Before the fix each cost ls a 2 s wait (42 s here); the timeout is only a hang guard.
    done = syncq("ls")
    assert done.returncode == 0, done
    assert not any(name in done.stdout.decode() for name in junk)
    done = syncq("ls", "--foreign")
    assert done.returncode == 0, done
    for name in junk:
        assert f"  {name}: pysyncq magic, not initialised".encode() in done.stderr


# --- findings 1, 2, 3, 8 at scale: 1000 foreign files of every kind ---


def test_ls_lists_queues_and_exits_0_beside_1000_foreign_files_of_every_kind(shm_files, names,
                                                                             capsys):
    queue = names("among-foreign")
    assert syncq("create", queue, "-s", "4096").returncode == 0
    kinds = ["zero", "random", "empty", "fifo", "magic"]
    hostile_names = [
        b"\x1b[31mred",             # CSI: colours
        b"\x1b]0;title\x07",        # OSC: sets the window title
        b"\x1b]8;;http:x\x1b\\",  # OSC 8 hyperlink (no "/": not in a file name)
        b"\xc2\x9b31m",             # U+009B, a C1 CSI
        b"\xe2\x80\xaeevil",        # U+202E, right-to-left override
        b"line\nbreak",
        b"\xff\xfe not utf-8",
    ]
    foreign = []
    for index in range(1000):
        kind = kinds[index % len(kinds)]
        if index % 10 == 0:
            raw = hostile_names[index // 10 % len(hostile_names)] + f"-{index}".encode()
            name = names("x").encode() + b"-" + raw
            name = os.fsdecode(name)
        else:
            name = names(f"foreign-{kind}")
        foreign.append(shm_files(name, kind, size=random.choice([64, 448, 4096])))
    started = time.monotonic()
    done = syncq("ls")
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nsyncq ls beside 1000 foreign files: {elapsed * 1000:.0f} ms")
    assert done.returncode == 0, done.stderr[:2000]
    out = done.stdout.decode()
    assert queue in out
    assert not any(name in out for name in foreign)
    # Quiet about other programs' files: nothing on stderr about any of them.
    assert not any(name.encode(errors="surrogateescape") in done.stderr for name in foreign)
    assert ESC not in done.stdout and ESC not in done.stderr
    # --foreign names them, escaped: one line each, no raw escape or C1 byte reaches us.
    done = syncq("ls", "--foreign")
    assert done.returncode == 0
    assert ESC not in done.stderr and b"\xc2\x9b" not in done.stderr
    assert b"\xe2\x80\xae" not in done.stderr
    assert b"\\x1b]0;title\\x07" in done.stderr
    assert b"\\u009b31m" in done.stderr and b"\\u202eevil" in done.stderr
    assert done.stderr.count(b"\n") >= 1000


# --- finding 3: escapes in names, error messages and messages ---


def test_a_queue_name_with_escapes_is_printed_escaped_by_ls_and_in_error_messages(names,
                                                                                  shm_files):
    queue = names("esc", suffix="-\x1b]0;pwned\x07")
    assert syncq("create", queue, "-s", "4096").returncode == 0
    done = syncq("ls")
    assert done.returncode == 0 and ESC not in done.stdout
    assert b"\\x1b]0;pwned\\x07" in done.stdout
    # The library's error message quotes the name again: escaped too.
    not_queue = shm_files(names("esc-err", suffix="-\x1b[2J"), "random")
    done = syncq("stat", not_queue)
    assert done.returncode == 1
    assert ESC not in done.stderr and b"\\x1b[2J" in done.stderr, done.stderr
    done = syncq("rm", not_queue)
    assert done.returncode == 1 and ESC not in done.stderr, done.stderr


def test_tail_and_stat_escape_c1_controls_and_bidi_overrides(names):
    pysyncq = pysyncq_or_skip()
    queue = names("c1")
    q = pysyncq.PySyncQ(queue, size=4096)
    sender = "\u009b31m\u202eevil\u2066"
    q.open(sender)
    tail = subprocess.Popen([str(SYNCQ), "tail", "-n", "1", queue], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert b"following" in tail.stderr.readline()  # registered: a handshake
        done = syncq("stat", queue)
        assert done.returncode == 0
        assert b"\\u009b31m\\u202eevil\\u2066" in done.stdout, done.stdout
        assert b"\xc2\x9b" not in done.stdout and b"\xe2\x80\xae" not in done.stdout
        q.append("t\u2067", "body \u0085 \x1b[1m")
        out, _ = tail.communicate(timeout=TIMEOUT)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert out == b"\\u009b31m\\u202eevil\\u2066\tt\\u2067\tbody \\u0085 \\x1b[1m\n", out
    q.close()


# --- finding 5: squatting ---


def test_a_queue_another_user_made_under_our_name_is_refused_unless_allowed(names):
    user = nobody()
    pysyncq = pysyncq_or_skip()
    queue = names("squat")
    done = syncq("create", queue, "-s", "4096", "-m", "0666", user=user)
    assert done.returncode == 0, done
    with pytest.raises(PermissionError, match="allow_foreign_owner"):
        pysyncq.PySyncQ(queue, create=False)
    q = pysyncq.PySyncQ(queue, create=False, allow_foreign_owner=True)
    q.open("consenting")
    q.close()  # the last close removes it (we are root)
    assert not (SHM / queue).exists()


def test_syncq_refuses_another_users_queue_for_writing_verbs_unless_allowed(names):
    user = nobody()
    queue = names("squat-cli")
    assert syncq("create", queue, "-s", "4096", "-m", "0666", user=user).returncode == 0
    for verb in (["reap", queue], ["send", queue, "t", "b"], ["rm", queue]):
        done = syncq(*verb)
        assert done.returncode == 1, (verb, done)
        assert b"belongs to uid" in done.stderr and b"allow-foreign-owner" in done.stderr
    # Looking is allowed: ls and stat show it.
    assert queue in syncq("ls").stdout.decode()
    assert syncq("stat", queue).returncode == 0
    assert syncq("reap", "--allow-foreign-owner", queue).returncode == 0
    assert syncq("rm", "--allow-foreign-owner", queue).returncode == 0
    assert not (SHM / queue).exists()


# --- finding 6: a refused rm ---


def test_a_refused_rm_leaves_the_name_for_the_last_close_to_remove(names):
    user = nobody()
    pysyncq = pysyncq_or_skip()
    queue = names("rm-refused")
    q = pysyncq.PySyncQ(queue, size=4096, mode=0o666)
    os.chmod(SHM / queue, 0o666)  # whatever the umask: the stranger gets to the unlink
    q.open("owner")
    done = syncq("rm", "--force", "--allow-foreign-owner", queue, user=user)
    assert done.returncode == 1, done
    assert (SHM / queue).exists()
    assert q.stats().unlinked is False  # before the fix: marked removed anyway
    q.close()
    assert not (SHM / queue).exists()  # before the fix: the close left it


# --- finding 7: a forged lock word ---


def forge_lock_word(name, tid):
    """Writes `tid` into the queue's lock word (offset 64), as a hostile process would."""
    with open(SHM / name, "r+b") as file, mmap.mmap(file.fileno(), 4096) as view:
        view[64:68] = tid.to_bytes(4, "little")


def test_a_forged_lock_word_is_reported_by_ls_stat_and_reap_and_rm_force_removes(names):
    queue = names("forged-lock")
    assert syncq("create", queue, "-s", "4096").returncode == 0
    holder = os.getpid()  # a live thread that never unlocks it
    forge_lock_word(queue, holder)
    done = syncq("ls")
    assert done.returncode == 0, done
    assert f"lock held by pid {holder} for".encode() in done.stderr, done.stderr
    for verb in (["stat", queue], ["reap", queue], ["rm", queue]):
        done = syncq(*verb)
        assert done.returncode == 1, (verb, done)
        assert f"lock held by pid {holder} for".encode() in done.stderr, (verb, done.stderr)
    done = syncq("rm", "--force", queue)
    assert done.returncode == 0, done
    assert not (SHM / queue).exists()
