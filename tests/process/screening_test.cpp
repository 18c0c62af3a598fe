// Screening by sender and type, and blocking pops with one deadline per call.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

TEST(Screening, messages_from_screened_senders_or_of_screened_types_are_skipped_but_count_as_read) {
  NameGuard name(unique_name("screen"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1024});
  queue.open("me");
  queue.screened_senders().insert("me");
  queue.screened_types().insert("noise");
  Pipe registered;
  Pipe appended;
  Child other([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("other");
    registered.send('R');
    mine.append("noise", "skip me");
    mine.append("signal", "keep me");
    appended.send('A');
    mine.close();
    return 0;
  });
  ASSERT_TRUE(registered.expect('R'));
  queue.append("signal", "my own");
  ASSERT_TRUE(appended.expect('A'));
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "other");
  EXPECT_EQ(message->body, "keep me");
  EXPECT_FALSE(queue.pop());
  EXPECT_EQ(other.wait(), 0); // it closed: only our cursor could hold anything now
  EXPECT_EQ(queue.stats().used_bytes, 0U); // skipped messages were consumed
  queue.close();
}

TEST(Screening, a_blocking_pop_waits_for_a_message_from_another_process) {
  NameGuard name(unique_name("popwait"));
  Queue queue = Queue::create(name.name());
  queue.open("reader");
  Pipe go;
  Child writer([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("writer");
    if (!go.expect('G')) {
      return 2;
    }
    mine.append("late", "worth the wait");
    mine.close();
    return 0;
  });
  go.send('G'); // the reader is already asleep or about to be: either way it must wake
  auto message = queue.pop(Deadline::after(20s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "worth the wait");
  EXPECT_EQ(writer.wait(), 0);
  queue.close();
}

TEST(Screening, a_blocking_pop_that_times_out_returns_nothing_after_its_deadline) {
  NameGuard name(unique_name("poptimeout"));
  Queue queue = Queue::create(name.name());
  queue.open("reader");
  const auto start = pysyncq::Clock::now();
  EXPECT_FALSE(queue.pop(Deadline::after(30ms)));
  EXPECT_GE(pysyncq::Clock::now() - start, 30ms);
  queue.close();
}

TEST(Screening, screened_messages_do_not_restart_the_deadline_of_a_blocking_pop) {
  NameGuard name(unique_name("onedeadline"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1 << 16});
  queue.open("reader");
  queue.screened_types().insert("noise");
  Pipe registered;
  Pipe stop;
  Child noisy([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("noisy");
    mine.screened_senders().insert("noisy");
    registered.send('R');
    char byte = 0;
    // Append screened noise until told to stop: a pop that restarted its timer on each
    // skipped message would never return.
    while (!stop.receive(byte, 1ms)) {
      mine.append("noise", "", Deadline::after(1s));
      while (mine.pop()) {
      }
    }
    mine.close();
    return 0;
  });
  ASSERT_TRUE(registered.expect('R'));
  EXPECT_FALSE(queue.pop(Deadline::after(300ms)));
  stop.send('S');
  EXPECT_EQ(noisy.wait(), 0);
  queue.close();
}
