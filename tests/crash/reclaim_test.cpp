// Reclaiming what the dead leave: a member whose pid was reused, processes that never
// close, a process killed half-way through leaving, a dead member that was asleep.
// Some states are written straight into the segment through the layout (src/core), the
// way a process that died at that instant would have left them.
#include "crash_helpers.hpp"

#include "core/layout.hpp"
#include "platform/clock.hpp"
#include "platform/liveness.hpp"
#include "platform/robust_mutex.hpp"
#include "segment.hpp"

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kCapacity = 4096;

// A child's body: takes the queue lock, says 'l', and sleeps holding it until killed.
int hold_the_lock_until_killed(const std::string &name, const Pipe &locked) {
  Segment own = Segment::attach(name);
  platform::RobustLock lock(own.header->lock_storage);
  locked.send('l');
  std::this_thread::sleep_for(1h); // killed holding the lock
  return 10;
}

// Fills the ring with our own messages and reads them back: afterwards only the other
// members hold the bytes.
std::uint64_t fill_and_read_own(Queue &queue, std::uint32_t stream) {
  std::uint64_t seq = 0;
  while (queue.try_append("data", make_checked_body(stream, seq, 900))) {
    ++seq;
  }
  EXPECT_EQ(drain_checked(queue).size(), seq);
  return seq;
}

TEST(Reclaim, ADeadMemberWhosePidNowBelongsToAnotherLiveProcessIsReaped) {
  NameGuard guard(unique_name("pid-reuse"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");

  // A live process that never opened the queue: its pid stands for a reused pid.
  Pipe started;
  Pipe quit;
  Child bystander = spawn_child(
      [](const Pipe &started, const Pipe &quit) {
        started.send_text(std::to_string(platform::current_process().start_time));
        return quit.expect('q', 60s) ? 0 : 3;
      },
      started, quit);
  std::string start_text;
  ASSERT_TRUE(started.receive_line(start_text, 20s));
  const std::uint64_t start_time = std::stoull(start_text);

  // The slot a member with the same pid but an earlier start left when it died.
  {
    Segment segment = Segment::attach(guard.name());
    platform::RobustLock lock(segment.header->lock_storage);
    const std::uint64_t tail = segment.header->tail.load();
    ASSERT_TRUE(segment.members.join(bystander.pid(), start_time - 1, "ghost", tail));
  }
  Stats stats = queue.stats();
  ASSERT_EQ(stats.members, 2U);
  EXPECT_EQ(stats.dead_members, 1U) << "pid " << bystander.pid() << " taken for the member";

  // The ghost holds back everything we write; a blocked append must reap it.
  fill_and_read_own(queue, 1);
  EXPECT_NO_THROW(queue.append("data", make_checked_body(2, 0, 900), Deadline::after(20s)));
  stats = queue.stats();
  EXPECT_EQ(stats.members, 1U);
  EXPECT_GE(stats.reaped_total, 1U);
  expect_whole_capacity_usable(queue);

  quit.send('q');
  EXPECT_EQ(bystander.wait(), 0) << "the process that owns the pid now was harmed";
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(Reclaim, AProcessThatExitsWithoutClosingIsReclaimedWhenTheLastLiveProcessCloses) {
  NameGuard guard(unique_name("no-close"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");
  Child forgetful = spawn_child(
      [](const std::string &name) {
        // Leaked on purpose: no destructor, no close, as a process that calls _exit().
        auto *q = new Queue(Queue::attach(name)); // NOLINT: deliberately leaked
        q->open("forgetful");
        q->append("data", make_checked_body(1, 0, 100));
        return 0;
      },
      guard.name());
  ASSERT_EQ(forgetful.wait(), 0);
  ASSERT_EQ(drain_checked(queue).size(), 1U);
  Stats stats = queue.stats();
  EXPECT_EQ(stats.members, 2U);
  EXPECT_EQ(stats.dead_members, 1U);
  fill_and_read_own(queue, 2); // the forgetful member holds all of it back
  queue.close();
  EXPECT_FALSE(guard.exists()) << "the last live process's close left the segment behind";
}

TEST(Reclaim, AQueueWhoseMembersAllDiedIsRemovedByTheNextProcessThatAttachesAndCloses) {
  NameGuard guard(unique_name("all-dead"));
  Queue::create(guard.name(), {.capacity_bytes = kCapacity}).close();
  ASSERT_FALSE(guard.exists()); // nobody ever opened it: the creator's close removes it
  auto creator = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  for (int i = 0; i < 3; ++i) {
    Child member = spawn_child(
        [](const std::string &name, int i) -> int {
          auto q = Queue::attach(name);
          q.open("member");
          q.append("data", make_checked_body(1, static_cast<std::uint64_t>(i), 10));
          kill_self();
        },
        guard.name(), i);
    ASSERT_EQ(member.wait(), -SIGKILL);
  }
  EXPECT_TRUE(guard.exists());
  auto late = Queue::attach(guard.name());
  EXPECT_EQ(late.stats().dead_members, 1U); // each open reaped the one before
  late.close();
  EXPECT_FALSE(guard.exists()) << "dead members kept the segment alive";
  creator.close();
}

TEST(Reclaim, AProcessKilledHalfWayThroughLeavingDoesNotKeepTheQueueAliveForEver) {
  NameGuard guard(unique_name("half-leave"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  Child leaver = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("leaver");
        // What close() does, cut short by a SIGKILL: the slot is free but the member count
        // still counts it, and the lock is held.
        Segment segment = Segment::attach(name);
        platform::RobustLock lock(segment.header->lock_storage);
        const std::uint32_t end = segment.members.scan_end();
        for (std::uint32_t index = 0; index < end; ++index) {
          segment.members.slot(index).state.store(core::kSlotFree);
        }
        kill_self();
        return 10;
      },
      guard.name());
  ASSERT_EQ(leaver.wait(), -SIGKILL);
  queue.close(); // the last live process: it must see that nobody is registered
  EXPECT_FALSE(guard.exists()) << "a member count left off by the dead leaver leaked the queue";
}

TEST(Reclaim, AProcessKilledHalfWayThroughJoiningDoesNotLetAnotherCloseRemoveTheQueue) {
  NameGuard guard(unique_name("half-join"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");
  Child joiner = spawn_child(
      [](const std::string &name) {
        // What open() does, cut short by a SIGKILL: the slot is published but the member
        // count does not count it yet, and the lock is held.
        Segment segment = Segment::attach(name);
        platform::RobustLock lock(segment.header->lock_storage);
        const auto index = segment.members.join(current_pid(), 0, "joiner", 0);
        segment.header->member_count.fetch_sub(1);
        (void)index;
        kill_self();
        return 10;
      },
      guard.name());
  ASSERT_EQ(joiner.wait(), -SIGKILL);
  {
    auto bystander = Queue::attach(guard.name());
    bystander.close(); // not open; reaps the dead joiner; must not think nobody is left
  }
  EXPECT_TRUE(guard.exists()) << "the queue was removed while 'owner' is still open";
  EXPECT_EQ(queue.stats().members, 1U);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(Reclaim, AnActiveSlotPastTheScanBoundIsCountedAndReapedAfterItsJoinerDied) {
  // What an older join (slot published before the scan bound grew) left when killed
  // between the two: an active slot that no scan sees. Once a later join widened the
  // bound, reaping it took one member too many off the count.
  NameGuard guard(unique_name("past-bound"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");
  Child joiner = spawn_child(
      [](const std::string &name) {
        Segment segment = Segment::attach(name);
        platform::RobustLock lock(segment.header->lock_storage);
        const std::uint32_t bound = segment.members.scan_end();
        const auto index =
            segment.members.join(current_pid(), platform::current_process().start_time, "joiner",
                                 segment.header->tail.load());
        if (!index || *index != bound) {
          return 3;
        }
        segment.header->slots_in_use.store(bound);
        kill_self();
        return 10;
      },
      guard.name());
  ASSERT_EQ(joiner.wait(), -SIGKILL);
  Child later = spawn_child( // joins past the dead slot, then leaves
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("later");
        q.close();
        return 0;
      },
      guard.name());
  ASSERT_EQ(later.wait(), 0);
  EXPECT_TRUE(guard.exists()) << "the queue was removed while 'owner' is still open";
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.members, 1U);
  EXPECT_GE(stats.lock_recoveries, 1U);
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(Reclaim, AMemberKilledWhileAsleepForSpaceIsNotTakenForADeadlockedHolder) {
  NameGuard guard(unique_name("dead-sleeper"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");

  Pipe reader_registered;
  Pipe reader_go;
  Child reader = spawn_child( // a live holder that is not blocked: the sleeper's wait is legal
      [](const std::string &name, const Pipe &reader_registered, const Pipe &reader_go) {
        auto q = Queue::attach(name);
        q.open("reader");
        reader_registered.send('r');
        if (!reader_go.expect('g', 60s)) {
          return 3;
        }
        while (q.pop()) {
        }
        reader_registered.send('d');
        return reader_go.expect('q', 60s) ? 0 : 4;
      },
      guard.name(), reader_registered, reader_go);
  ASSERT_TRUE(reader_registered.expect('r'));

  Pipe sleeper_registered;
  Pipe sleeper_go;
  Child sleeper = spawn_child(
      [](const std::string &name, const Pipe &sleeper_registered, const Pipe &sleeper_go) {
        auto q = Queue::attach(name);
        q.open("sleeper");
        q.set_wait_policy(WaitPolicy::sleep());
        sleeper_registered.send('r');
        if (!sleeper_go.expect('g', 60s)) {
          return 3;
        }
        // Blocked behind the reader (alive, not blocked) and itself: a wait, not a deadlock.
        q.append("data", make_checked_body(5, 0, 900), Deadline::after(60s));
        return 10;
      },
      guard.name(), sleeper_registered, sleeper_go);
  ASSERT_TRUE(sleeper_registered.expect('r'));
  fill_and_read_own(queue, 1);
  sleeper_go.send('g');
  ASSERT_TRUE(wait_until_member_waits(queue, sleeper.pid(), MemberStats::Waiting::kForSpace));
  ASSERT_EQ(sleeper.kill_and_wait(), -SIGKILL); // killed in its sleep, not holding the lock

  reader_go.send('g');
  ASSERT_TRUE(reader_registered.expect('d')); // the only holder left is the dead sleeper

  // As if a liveness scan had just run: the next look is up to 100 ms away.
  {
    Segment segment = Segment::attach(guard.name());
    segment.header->last_reap_check_ns.store(platform::monotonic_ns());
  }
  try {
    queue.append("data", make_checked_body(2, 0, 900), Deadline::after(20s));
  } catch (const Deadlock &error) {
    ADD_FAILURE() << "a dead holder was counted as blocked: " << error.what();
  }
  reader_go.send('q');
  EXPECT_EQ(reader.wait(), 0);
  EXPECT_EQ(queue.stats().members, 1U);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

namespace lost_wake {

// Values of the kernel's robust futex word (linux/futex.h), which glibc's robust mutex
// keeps as the first word of pthread_mutex_t.
constexpr std::uint32_t kFutexWaiters = 0x80000000U;
constexpr std::uint32_t kFutexOwnerDied = 0x40000000U;

std::atomic<std::uint32_t> &lock_word(const Segment &segment) {
  return *reinterpret_cast<std::atomic<std::uint32_t> *>(segment.header->lock_storage);
}

// Whether the lock line says a waiter sleeps: the kernel's FUTEX_WAITERS in the robust
// mutex's word, or the owner-word lock's waiters bit (docs/design.md, "The lock line per
// platform").
[[maybe_unused]] bool lock_has_sleepers(const Segment &segment) { // not on Windows
  if (platform::robust_mutex_kind() == platform::kLockKindRobustPthread) {
    return (lock_word(segment).load() & kFutexWaiters) != 0;
  }
  constexpr std::uint64_t kOwnerWordWaiters = 1ULL << 63;
  return (reinterpret_cast<std::atomic<std::uint64_t> *>(segment.header->lock_storage)->load() &
          kOwnerWordWaiters) != 0;
}

// Whether `pid` is asleep in the kernel inside a futex wait.
[[maybe_unused]] bool asleep_on_futex(int pid) { // not on Windows
  std::ifstream wchan("/proc/" + std::to_string(pid) + "/wchan");
  std::string where;
  std::getline(wchan, where);
  return where.find("futex") != std::string::npos;
}

} // namespace lost_wake

TEST(Reclaim, AWaiterAsleepBehindAKilledHolderTakesTheLockAndRepairs) {
  // Every lock: the holder dies while a waiter sleeps on the lock. The robust mutex's
  // kernel hands the lock on with EOWNERDEAD; the owner-word lock's waiter finds the
  // holder dead after a bounded sleep and takes it over. Either way with the repair.
  NameGuard guard(unique_name("dead-holder"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  Segment segment = Segment::attach(guard.name());
  Pipe locked;
  Child holder = spawn_child(hold_the_lock_until_killed, guard.name(), locked);
  ASSERT_TRUE(locked.expect('l'));
  Pipe locking;
  Child waiter = spawn_child(
      [](const std::string &name, const Pipe &locking) {
        auto q = Queue::attach(name);
        locking.send('w');
        q.open("waiter"); // sleeps on the lock
        q.append("data", make_checked_body(1, 0, 100));
        q.close();
        return 0;
      },
      guard.name(), locking);
  ASSERT_TRUE(locking.expect('w'));
#ifndef _WIN32
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!(lost_wake::lock_has_sleepers(segment) && lost_wake::asleep_on_futex(waiter.pid()))) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the waiter never slept on the lock";
    std::this_thread::yield();
  }
#endif
  // Windows shows no sleeper on a kernel mutex: the waiter is asleep in it or on its way,
  // and a mutex abandoned before its wait comes says WAIT_ABANDONED all the same.
  ASSERT_EQ(holder.kill_and_wait(), -SIGKILL);
  EXPECT_EQ(waiter.wait(20s), 0) << "the waiter never got the lock (-1000: timeout)";
  EXPECT_GE(queue.stats().lock_recoveries, 1U);
  queue.open("owner");
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(Reclaim, AWaiterWhoseWakeUpDiedWithAnotherKilledProcessStillTakesTheLock) {
  // When a lock holder dies, the kernel marks the word "owner died" and wakes one
  // waiter. If that waiter is SIGKILLed before it takes the lock, nothing wakes the
  // others. Written here as the word that sequence leaves: free, owner died, waiters.
  if (platform::robust_mutex_kind() != platform::kLockKindRobustPthread) {
    GTEST_SKIP() << "the kernel's robust-futex word: the owner-word lock has none (its "
                    "waiters wake every 10 ms on their own; the test above kills its holder)";
  }
  NameGuard guard(unique_name("lost-wake"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  Segment segment = Segment::attach(guard.name());

  Pipe locked;
  Child holder = spawn_child(hold_the_lock_until_killed, guard.name(), locked);
  ASSERT_TRUE(locked.expect('l'));
  Child waiter = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("waiter"); // sleeps on the lock
        q.append("data", make_checked_body(1, 0, 100));
        q.close();
        return 0;
      },
      guard.name());
  // Handshake on the kernel's state: the waiter is asleep on the word, flagged waiting.
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!((lost_wake::lock_word(segment).load() & lost_wake::kFutexWaiters) != 0 &&
           lost_wake::asleep_on_futex(waiter.pid()))) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the waiter never slept on the lock";
    std::this_thread::yield();
  }
  // The holder's death no longer names it in the word, so the kernel wakes nobody.
  lost_wake::lock_word(segment).store(lost_wake::kFutexWaiters | lost_wake::kFutexOwnerDied);
  ASSERT_EQ(holder.kill_and_wait(), -SIGKILL);

  EXPECT_EQ(waiter.wait(20s), 0) << "the waiter slept on a free lock for ever (-1000: timeout)";
  EXPECT_GE(queue.stats().lock_recoveries, 1U);
  queue.open("owner");
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

} // namespace
} // namespace pysyncq::testing
