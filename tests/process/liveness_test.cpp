// Members that die: reaped, so they neither clog the queue nor hold the lock.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::spawn_child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

TEST(Liveness, a_killed_reader_is_reaped_so_a_blocked_appender_proceeds) {
  NameGuard name(unique_name("deadreader"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("w");
  Pipe registered;
  Child reader = spawn_child(
      [](const std::string &queue_name, const Pipe &registered) -> int {
        Queue mine = Queue::attach(queue_name);
        mine.open("doomed");
        registered.send('R');
        for (;;) {
          std::this_thread::sleep_for(1h); // never reads; killed by the test
        }
      },
      name.name(), registered);
  ASSERT_TRUE(registered.expect('R'));
  while (queue.try_append("t", std::string(16, 'x'))) {
  }
  while (queue.pop()) {
  }
  const auto before = queue.stats();
  EXPECT_EQ(before.members, 2U);
  EXPECT_EQ(before.dead_members, 0U);
  reader.kill_and_wait();
  const auto after_kill = queue.stats();
  EXPECT_EQ(after_kill.dead_members, 1U); // seen as dead before anyone reaps it
  queue.append("t", std::string(16, 'x'), Deadline::after(20s)); // reaps, then fits
  const auto after = queue.stats();
  EXPECT_EQ(after.members, 1U);
  EXPECT_EQ(after.reaped_total, 1U);
  queue.close();
  EXPECT_FALSE(name.exists());
}

TEST(Liveness, a_killed_zombie_child_counts_as_dead_before_its_parent_waits_for_it) {
  NameGuard name(unique_name("zombie"));
  Queue queue = Queue::create(name.name());
  queue.open("parent");
  Pipe registered;
  Pipe exiting;
  Child child = spawn_child(
      [](const std::string &queue_name, const Pipe &registered, const Pipe &exiting) -> int {
        Queue mine = Queue::attach(queue_name);
        mine.open("child");
        registered.send('R');
        exiting.send('X');
        // Dies registered, and stays a zombie until the parent reaps it (on Windows: an
        // exited process whose handle the parent still holds).
        std::_Exit(0);
      },
      name.name(), registered, exiting);
  ASSERT_TRUE(registered.expect('R'));
  ASSERT_TRUE(exiting.expect('X'));
  // The child may not have exited yet; the queue must see it dead once it has.
  std::uint32_t reaped = 0;
  for (int attempt = 0; attempt < 2000 && reaped == 0; ++attempt) {
    reaped = queue.reap();
    if (reaped == 0) {
      std::this_thread::sleep_for(1ms); // waiting for the kernel to finish the exit
    }
  }
  EXPECT_EQ(reaped, 1U);
  EXPECT_EQ(child.wait(), 0);
  queue.close();
}

TEST(Liveness, a_writer_killed_while_holding_the_lock_does_not_block_the_others) {
  NameGuard name(unique_name("deadwriter"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  queue.open("survivor");
  Pipe registered;
  Child writer = spawn_child(
      [](const std::string &queue_name, const Pipe &registered) -> int {
        Queue mine = Queue::attach(queue_name);
        mine.open("doomed");
        registered.send('R');
        for (int i = 0;; ++i) {
          mine.append("t", std::string(100, 'x'), Deadline::after(20s));
          while (mine.pop()) {
          }
        }
      },
      name.name(), registered);
  ASSERT_TRUE(registered.expect('R'));
  // Read a while, then kill it mid-stream, wherever it is (often inside the lock).
  for (int i = 0; i < 2000; ++i) {
    auto message = queue.pop(Deadline::after(20s));
    ASSERT_TRUE(message);
    ASSERT_EQ(message->body, std::string(100, 'x'));
  }
  writer.kill_and_wait();
  while (auto message = queue.pop()) {
    ASSERT_EQ(message->body, std::string(100, 'x')); // never a torn message
  }
  queue.append("after", "the crash", Deadline::after(20s));
  EXPECT_EQ(queue.pop()->body, "the crash");
  queue.close();
  EXPECT_FALSE(name.exists());
}
