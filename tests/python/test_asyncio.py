"""asyncio: apop, aappend and aiter with real processes on the other side of the queue."""

import asyncio
import multiprocessing as mp
import os
import resource
import signal
import uuid

import pytest

from pysyncq import PySyncQ

FORK = mp.get_context("fork")


def fresh_name(tag):
    return f"pysyncq-test-aio-{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queue():
    q = PySyncQ(fresh_name("q"), size=1 << 16)
    q.open("loop")
    yield q
    q.close()
    q.close()


def writer(name, ready, go, count, body_bytes=32):
    q = PySyncQ(name, create=False)
    q.open("writer")
    ready.set()
    go.wait(20)
    for i in range(count):
        q.append("n", f"{i}".ljust(body_bytes, "."), block=True, timer=20)
        for _ in q:  # a writer is a member too: it reads (its own copies) so space frees
            pass
    q.close()


def start_writer(q, count, **kwargs):
    ready, go = FORK.Event(), FORK.Event()
    p = FORK.Process(target=writer, args=(q.name, ready, go, count), kwargs=kwargs)
    p.start()
    assert ready.wait(20)
    return p, go


def test_apop_returns_a_message_that_another_process_appends_while_it_awaits(queue):
    p, go = start_writer(queue, 1)

    async def main():
        task = asyncio.ensure_future(queue.apop(timer=20))
        await asyncio.sleep(0)  # the task is now awaiting the fd
        go.set()
        return await task

    sender, mtype, body = asyncio.run(main())
    assert (sender, mtype, body.rstrip(".")) == ("writer", "n", "0")
    p.join(20)
    assert p.exitcode == 0


def test_many_coroutines_await_at_once_and_each_message_goes_to_one_of_them(queue):
    p, go = start_writer(queue, 20)

    async def main():
        tasks = [asyncio.ensure_future(queue.apop(timer=20)) for _ in range(20)]
        await asyncio.sleep(0)
        go.set()
        return await asyncio.gather(*tasks)

    bodies = sorted(int(m[2].rstrip(".")) for m in asyncio.run(main()))
    assert bodies == list(range(20))
    p.join(20)
    assert p.exitcode == 0


def test_apop_returns_none_when_its_timer_expires(queue):
    assert asyncio.run(queue.apop(timer=0.05)) is None


def test_a_cancelled_apop_raises_cancelled_error_and_consumes_nothing(queue):
    async def main():
        task = asyncio.ensure_future(queue.apop(timer=None))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    queue.scrnsend.discard("loop")
    queue.append("t", "after the cancel")
    assert queue.pop() == ("loop", "t", "after the cancel")


def test_aiter_yields_messages_as_they_arrive_until_cancelled(queue):
    p, go = start_writer(queue, 5)

    async def main():
        seen = []

        async def consume():
            async for message in queue.aiter():
                seen.append(int(message[2].rstrip(".")))
                if len(seen) == 5:
                    return

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        go.set()
        await asyncio.wait_for(task, 20)
        return seen

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    p.join(20)


def idle_member(name, ready, done):
    q = PySyncQ(name, create=False)
    q.open("idle")  # never reads: holds every message
    ready.set()
    done.wait(30)
    q.close()


def test_aappend_awaits_space_and_raises_memory_error_when_its_timer_expires():
    name = fresh_name("full")
    q = PySyncQ(name, size=256)
    q.open("loop")
    ready, done = FORK.Event(), FORK.Event()
    p = FORK.Process(target=idle_member, args=(name, ready, done))
    p.start()
    try:
        assert ready.wait(20)
        while True:
            try:
                q.append("t", "x" * 16)
            except MemoryError:
                break
        for _ in q:  # our own copies: only the idle member holds space now
            pass
        with pytest.raises(MemoryError):
            asyncio.run(q.aappend("t", "x" * 16, timer=0.05))

        async def main():
            task = asyncio.ensure_future(q.aappend("t", "x" * 16, timer=20))
            await asyncio.sleep(0.01)
            assert not task.done()
            done.set()  # the idle member closes: its unread bytes are freed
            await task

        asyncio.run(main())
    finally:
        done.set()
        p.join(20)
        q.close()


def test_aappend_of_a_message_larger_than_the_queue_fails_at_once():
    q = PySyncQ(fresh_name("huge"), size=128)
    q.open("loop")
    try:
        with pytest.raises(MemoryError):
            asyncio.run(q.aappend("t", "x" * 1000, timer=None))
    finally:
        q.close()


def test_an_awaiting_reader_survives_a_writer_killed_mid_stream(queue):
    p, go = start_writer(queue, 10**9, body_bytes=200)

    async def main():
        go.set()
        for _ in range(500):
            message = await queue.apop(timer=20)
            assert message is not None and len(message[2]) == 200
        os.kill(p.pid, signal.SIGKILL)
        p.join(20)
        while (message := await queue.apop(timer=0.2)) is not None:
            assert len(message[2]) == 200  # never a torn message
        queue.scrnsend.discard("loop")
        await queue.aappend("t", "still working", timer=5)
        assert await queue.apop(timer=5) == ("loop", "t", "still working")

    asyncio.run(main())


def test_apop_on_a_closed_queue_raises_value_error():
    q = PySyncQ(fresh_name("closed"))
    q.open("loop")
    q.close()
    with pytest.raises(ValueError):
        asyncio.run(q.apop(timer=1))


def test_an_idle_awaiting_process_uses_no_cpu(queue):
    def cpu_seconds():
        usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
        return usage.ru_utime + usage.ru_stime

    async def main():
        await queue.apop(timer=0.1)  # warm up: the helper thread exists
        before = cpu_seconds()
        assert await queue.apop(timer=1.0) is None
        return cpu_seconds() - before

    used = asyncio.run(main())
    # A polling loop would burn most of the second; sleeping costs microseconds.
    assert used < 0.1, f"{used:.3f} s of CPU in one idle second"
