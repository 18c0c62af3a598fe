// Every named crash point, every run: a process SIGKILLs itself at the point (the
// pysyncq_crashable build), and the survivors must see no torn or phantom message, get
// the whole capacity back, and keep working.
#include "crash_helpers.hpp"

#include <csignal>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kCapacity = 4096;

// Another process attaches, exchanges one message each way with `queue`'s owner, and
// leaves: the queue still works for newcomers after the crash.
void expect_newcomer_can_talk(Queue &queue, const std::string &name) {
  Pipe registered;
  Child newcomer = spawn_child(
      [](const std::string &name, const Pipe &registered) {
        auto q = Queue::attach(name);
        q.open("newcomer");
        registered.send('r');
        q.append("data", make_checked_body(7, 0, 33));
        // Reads its own message, then the reply.
        for (int expected = 0; expected < 2; ++expected) {
          const auto message = q.pop(Deadline::after(20s));
          if (!message || !parse_checked_body(message->body)) {
            return 2;
          }
        }
        q.close();
        return 0;
      },
      name, registered);
  ASSERT_TRUE(registered.expect('r'));
  const auto message = queue.pop(Deadline::after(20s));
  ASSERT_TRUE(message.has_value());
  const auto id = parse_checked_body(message->body);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->stream, 7U);
  queue.append("data", make_checked_body(8, 0, 21), Deadline::after(20s));
  EXPECT_EQ(newcomer.wait(), 0);
  while (queue.pop()) { // our own reply
  }
}

class AppendCrash : public ::testing::TestWithParam<const char *> {};

TEST_P(AppendCrash, AWriterKilledThereLeavesNoTornOrPhantomMessageAndTheCapacityComesBack) {
  const std::string point = GetParam();
  NameGuard guard(unique_name("append-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("survivor");

  Child writer = spawn_child(
      [](const std::string &name, const std::string &point) {
        auto q = Queue::attach(name);
        q.open("victim");
        for (std::uint64_t seq = 0; seq < 3; ++seq) {
          q.append("data", make_checked_body(1, seq, 100 + static_cast<std::uint32_t>(seq)));
        }
        arm_crash_point(point.c_str());
        q.append("data", make_checked_body(1, 3, 500));
        return 10; // the crash point did not fire
      },
      guard.name(), point);
  ASSERT_EQ(writer.wait(), -SIGKILL) << point << " did not kill the writer";

  // Whole messages only: the three before the crash, and the fourth only once published.
  const std::vector<CheckedId> ids = drain_checked(queue);
  const std::size_t expected = point == "append.after_publish" ? 4 : 3;
  ASSERT_EQ(ids.size(), expected) << point;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i].stream, 1U);
    EXPECT_EQ(ids[i].seq, i) << "reordered or duplicated";
  }

  // The writer died holding the lock: the next locker recovers it and reaps the writer.
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.lock_recoveries, 1U);
  EXPECT_EQ(stats.members, 1U) << "the dead writer is still registered";
  EXPECT_EQ(stats.dead_members, 0U);
  EXPECT_EQ(stats.used_bytes, 0U);

  // The half-written bytes of the lost message are overwritten, never read.
  queue.append("data", make_checked_body(2, 0, 64));
  const std::vector<CheckedId> after = drain_checked(queue);
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].stream, 2U);

  expect_whole_capacity_usable(queue);
  expect_newcomer_can_talk(queue, guard.name());
  queue.close();
  EXPECT_FALSE(guard.exists()) << "the last close left the segment behind";
}

INSTANTIATE_TEST_SUITE_P(CrashPoint, AppendCrash,
                         ::testing::Values("append.before_copy", "append.after_copy",
                                           "append.after_publish"),
                         [](const auto &info) {
                           std::string name = info.param;
                           for (char &c : name) {
                             c = c == '.' ? '_' : c;
                           }
                           return name;
                         });

TEST(CrashPoint, AReaderAsleepGetsAMessageWhoseWriterWasKilledBeforeWakingIt) {
  NameGuard guard(unique_name("wake-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});

  Pipe reader_registered;
  Pipe writer_dead;
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &reader_registered, const Pipe &writer_dead) {
        auto q = Queue::attach(name);
        q.set_wait_policy(WaitPolicy::sleep());
        q.open("reader");
        reader_registered.send('r');
        const auto message = q.pop(Deadline::never()); // as timer=None
        // The message is published before the crash point, so a recheck may find it
        // while the writer is still being killed (TerminateProcess under Wine takes
        // a while): close only once it is dead, so that this close is the last.
        if (!writer_dead.expect('d')) {
          return 21;
        }
        q.close();
        return message && parse_checked_body(message->body) ? 0 : 20;
      },
      guard.name(), reader_registered, writer_dead);
  ASSERT_TRUE(reader_registered.expect('r'));
  ASSERT_TRUE(wait_until_member_waits(queue, reader.pid(), MemberStats::Waiting::kForMessage));

  Child writer = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("writer");
        arm_crash_point("append.before_wake");
        q.append("data", make_checked_body(1, 0, 64));
        return 10;
      },
      guard.name());
  ASSERT_EQ(writer.wait(), -SIGKILL);
  writer_dead.send('d');
  // Without a wake-up, only a waiter that looks again by itself ever returns.
  EXPECT_EQ(reader.wait(20s), 0) << "-1000: the reader slept through a published message";
  EXPECT_FALSE(guard.exists()) << "the reader's close left the segment behind";
}

TEST(CrashPoint, AReaderKilledBeforeAdvancingIsReapedSoABlockedAppenderProceeds) {
  NameGuard guard(unique_name("pop-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");

  Pipe reader_registered;
  Pipe reader_go;
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &reader_registered, const Pipe &reader_go) {
        auto q = Queue::attach(name);
        q.open("reader");
        reader_registered.send('r');
        if (!reader_go.expect('g', 30s)) {
          return 3;
        }
        arm_crash_point("pop.before_advance");
        (void)q.pop(Deadline::after(20s));
        return 10;
      },
      guard.name(), reader_registered, reader_go);
  ASSERT_TRUE(reader_registered.expect('r'));

  // Fill the ring; we read our own messages, so only the reader holds the bytes back.
  const std::string body = make_checked_body(1, 0, 1000);
  std::uint64_t seq = 0;
  while (queue.try_append("data", make_checked_body(1, seq, 1000))) {
    ++seq;
  }
  ASSERT_GE(seq, 2U);
  ASSERT_EQ(drain_checked(queue).size(), seq);

  // A third process blocks appending: no deadline short enough to matter.
  Pipe appender_registered;
  Child appender = spawn_child(
      [](const std::string &name, const Pipe &appender_registered) {
        auto q = Queue::attach(name);
        q.open("appender");
        appender_registered.send('r');
        try {
          q.append("data", make_checked_body(2, 0, 1000), Deadline::after(30s));
        } catch (const QueueFull &error) {
          std::fprintf(stderr, "appender: %s\n", error.what());
          return 4;
        }
        q.close();
        return 0;
      },
      guard.name(), appender_registered);
  ASSERT_TRUE(appender_registered.expect('r'));
  ASSERT_TRUE(wait_until_member_waits(queue, appender.pid(), MemberStats::Waiting::kForSpace));

  reader_go.send('g');
  ASSERT_EQ(reader.wait(), -SIGKILL) << "pop.before_advance did not kill the reader";
  EXPECT_EQ(appender.wait(), 0) << "the appender stayed blocked behind a dead reader";

  const Stats stats = queue.stats();
  EXPECT_GE(stats.reaped_total, 1U);
  EXPECT_EQ(stats.members, 1U);
  const std::vector<CheckedId> ids = drain_checked(queue);
  ASSERT_EQ(ids.size(), 1U);
  EXPECT_EQ(ids[0].stream, 2U);
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

// A blocked appender copies its unread messages into its private backlog, then moves its
// cursor. Killed in between, it has freed nothing and taken nothing: the messages are
// still in the ring for everyone else, whole, and reaping it frees the space.
TEST(CrashPoint, AnAppenderKilledWhileMovingMessagesIntoItsBacklogLosesNothingForTheOthers) {
  NameGuard guard(unique_name("backlog-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");

  Pipe appender_registered;
  Pipe appender_go;
  Child appender = spawn_child(
      [](const std::string &name, const Pipe &appender_registered, const Pipe &appender_go) {
        auto q = Queue::attach(name);
        q.open("appender");
        appender_registered.send('r');
        if (!appender_go.expect('g', 30s)) {
          return 3;
        }
        arm_crash_point("backlog.before_advance");
        // It holds the owner's messages, unread: it must move them before it can wait.
        q.append("data", make_checked_body(2, 0, 1000), Deadline::after(20s));
        return 10;
      },
      guard.name(), appender_registered, appender_go);
  ASSERT_TRUE(appender_registered.expect('r'));

  // Fill the ring; the owner holds its own messages too (it reads them at the end).
  std::uint64_t seq = 0;
  while (queue.try_append("data", make_checked_body(1, seq, 1000))) {
    ++seq;
  }
  ASSERT_GE(seq, 2U);
  appender_go.send('g');
  ASSERT_EQ(appender.wait(), -SIGKILL) << "backlog.before_advance did not kill the appender";

  const std::vector<CheckedId> ids = drain_checked(queue);
  ASSERT_EQ(ids.size(), seq) << "the owner lost messages";
  for (std::uint64_t i = 0; i < seq; ++i) {
    EXPECT_EQ(ids[i].stream, 1U);
    EXPECT_EQ(ids[i].seq, i);
  }
  expect_whole_capacity_usable(queue); // reaps the dead appender on its way
  EXPECT_EQ(queue.stats().members, 1U);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(CrashPoint, AProcessKilledInOpenAfterJoiningIsReapedAndHoldsNoSpace) {
  NameGuard guard(unique_name("open-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("survivor");
  Child opener = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        arm_crash_point("open.after_join");
        q.open("victim");
        return 10;
      },
      guard.name());
  ASSERT_EQ(opener.wait(), -SIGKILL);
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.lock_recoveries, 1U);
  EXPECT_EQ(stats.members, 1U);
  expect_whole_capacity_usable(queue);
  expect_newcomer_can_talk(queue, guard.name());
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(CrashPoint, AProcessKilledInCloseAfterLeavingLeavesTheQueueUsable) {
  NameGuard guard(unique_name("close-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("survivor");
  Child closer = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("victim");
        q.append("data", make_checked_body(1, 0, 10));
        arm_crash_point("close.after_leave");
        q.close();
        return 10;
      },
      guard.name());
  ASSERT_EQ(closer.wait(), -SIGKILL);
  const std::vector<CheckedId> ids = drain_checked(queue);
  ASSERT_EQ(ids.size(), 1U);
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.lock_recoveries, 1U);
  EXPECT_EQ(stats.members, 1U);
  expect_whole_capacity_usable(queue);
  expect_newcomer_can_talk(queue, guard.name());
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(CrashPoint, TheLastMemberKilledInCloseStillLetsTheLastProcessRemoveTheQueue) {
  NameGuard guard(unique_name("last-close-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  Child closer = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("only-member");
        arm_crash_point("close.after_leave");
        q.close(); // it left but died before removing the name
        return 10;
      },
      guard.name());
  ASSERT_EQ(closer.wait(), -SIGKILL);
  EXPECT_TRUE(guard.exists());
  queue.close(); // an attached process that never opened is the last one: it cleans up
  EXPECT_FALSE(guard.exists()) << "the segment leaked";
}

TEST(CrashPoint, TheLastMemberKilledWhileRemovingTheNameLeavesNoSegmentBehind) {
  NameGuard guard(unique_name("unlink-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  Child closer = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("only-member");
        arm_crash_point("close.unlinking");
        q.close(); // died half-way through removing the name
        return 10;
      },
      guard.name());
  ASSERT_EQ(closer.wait(), -SIGKILL);
  queue.close(); // the last attached process
  EXPECT_FALSE(guard.exists()) << "the segment leaked";
}

TEST(CrashPoint, AnAppenderKilledJustAfterAnnouncingItsSleepIsReapedAndItsCountDropped) {
  NameGuard guard(unique_name("space-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");

  Pipe events;    // children -> parent
  Pipe reader_go; // parent -> reader: read everything now
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &events, const Pipe &reader_go) {
        auto q = Queue::attach(name);
        q.open("reader");
        events.send('r');
        if (!reader_go.expect('g', 30s)) {
          return 3;
        }
        // Reads until it has seen the owner's final message (stream 9).
        for (;;) {
          const auto message = q.pop(Deadline::after(20s));
          if (!message) {
            return 4;
          }
          const auto id = parse_checked_body(message->body);
          if (!id) {
            return 5;
          }
          if (id->stream == 9) {
            q.close();
            return 0;
          }
        }
      },
      guard.name(), events, reader_go);
  ASSERT_TRUE(events.expect('r'));

  Child victim = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("victim");
        // Fill the ring (the reader does not read yet), then block: the reader, alive and
        // not blocked, holds the space, so this is a wait and not a deadlock.
        std::uint64_t seq = 0;
        while (q.try_append("data", make_checked_body(1, seq, 900))) {
          ++seq;
        }
        while (q.pop()) {
        }
        arm_crash_point("wait_for_space.after_announce");
        q.append("data", make_checked_body(1, seq, 900), Deadline::after(30s));
        return 10;
      },
      guard.name());
  ASSERT_EQ(victim.wait(), -SIGKILL);
  while (queue.pop()) {
  }

  // The victim died holding the lock, counted as a space sleeper.
  Stats stats = queue.stats();
  EXPECT_EQ(stats.lock_recoveries, 1U);
  EXPECT_EQ(stats.members, 2U) << "the dead appender is still registered";
  for (const MemberStats &member : stats.member_list) {
    EXPECT_EQ(member.waiting, MemberStats::Waiting::kNo) << "pid " << member.pid;
  }

  // Now we block for space behind the live reader: a wait, never a deadlock verdict,
  // and it ends when the reader reads.
  std::uint64_t seq = 0;
  while (queue.try_append("data", make_checked_body(3, seq, 900))) {
    ++seq;
  }
  while (queue.pop()) {
  }
  reader_go.send('g');
  EXPECT_NO_THROW(queue.append("data", make_checked_body(9, 0, 900), Deadline::after(30s)));
  EXPECT_EQ(reader.wait(), 0);
  stats = queue.stats();
  EXPECT_EQ(stats.members, 1U);
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(CrashPoint, AReaderKilledJustAfterAnnouncingItsSleepIsReapedAndAppendsStillWork) {
  NameGuard guard(unique_name("message-crash"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});
  queue.open("owner");
  Child victim = spawn_child(
      [](const std::string &name) {
        auto q = Queue::attach(name);
        q.open("victim");
        q.set_wait_policy(WaitPolicy::sleep());
        arm_crash_point("wait_for_message.after_announce");
        (void)q.pop(Deadline::after(30s));
        return 10;
      },
      guard.name());
  ASSERT_EQ(victim.wait(), -SIGKILL);
  // A reader announces its sleep without the queue lock (layout 4), so there is no lock
  // to recover; the dead member is reaped as any other, with its sleeper counts.
  EXPECT_EQ(queue.stats().lock_recoveries, 0U);
  EXPECT_EQ(queue.reap(), 1U);
  EXPECT_EQ(queue.stats().members, 1U);
  for (int i = 0; i < 20; ++i) { // the first append clears the dead announcement
    queue.append("data", make_checked_body(1, static_cast<std::uint64_t>(i), 300));
    ASSERT_EQ(drain_checked(queue).size(), 1U);
  }
  expect_whole_capacity_usable(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

} // namespace
} // namespace pysyncq::testing
