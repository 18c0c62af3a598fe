// Full queues, blocking appends, timeouts, exact fits and the bytes a close frees.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::QueueFull;
using pysyncq::testing::Child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

namespace {
// Fills `queue` (opened as a one-letter sender, type "t") with 16-byte bodies until full.
int fill(Queue &queue) {
  int appended = 0;
  while (queue.try_append("t", std::string(16, 'x'))) {
    ++appended;
  }
  return appended;
}
} // namespace

TEST(Capacity, a_full_queue_refuses_a_non_blocking_append_with_the_sizes_in_the_message) {
  NameGuard name(unique_name("full"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("a");
  const int appended = fill(queue);
  EXPECT_EQ(appended, 256 / 40); // 16 header + 1 sender + 1 type + 16 body -> 40
  try {
    queue.append("t", std::string(16, 'x'));
    FAIL() << "append into a full queue succeeded";
  } catch (const QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), 40U);
    EXPECT_EQ(queue.footprint("t", std::string(16, 'x')), 40U) << "the queue's own count";
    EXPECT_EQ(error.free_bytes(), 16U);
    EXPECT_EQ(error.capacity_bytes(), 256U);
    EXPECT_NE(std::string(error.what()).find("append needs 40 bytes; 16 of 256 free"),
              std::string::npos)
        << error.what();
  }
  queue.close();
}

TEST(Capacity, a_message_that_fills_the_remaining_space_to_the_byte_fits) {
  NameGuard name(unique_name("exact"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 128});
  queue.open("s");
  // 16 header + 1 sender + 0 type + 111 body = 128: exactly the capacity.
  EXPECT_TRUE(queue.try_append("", std::string(111, 'b')));
  EXPECT_FALSE(queue.try_append("", ""));
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, std::string(111, 'b'));
  // Now at offset 0 again after a full lap; split it into two exact halves.
  EXPECT_TRUE(queue.try_append("", std::string(47, 'c')));
  EXPECT_TRUE(queue.try_append("", std::string(47, 'd')));
  EXPECT_FALSE(queue.try_append("", ""));
  EXPECT_EQ(queue.pop()->body, std::string(47, 'c'));
  EXPECT_EQ(queue.pop()->body, std::string(47, 'd'));
  queue.close();
}

TEST(Capacity, zero_length_fields_round_trip) {
  NameGuard name(unique_name("empty"));
  Queue queue = Queue::create(name.name());
  queue.open("x");
  queue.append("", "");
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "x");
  EXPECT_EQ(message->type, "");
  EXPECT_EQ(message->body, "");
  queue.close();
}

TEST(Capacity, binary_bytes_including_nul_round_trip) {
  NameGuard name(unique_name("binary"));
  Queue queue = Queue::create(name.name());
  queue.open("x");
  std::string body;
  for (int i = 0; i < 256; ++i) {
    body += static_cast<char>(i);
  }
  queue.append(std::string("t\0y", 3), body);
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type, std::string("t\0y", 3));
  EXPECT_EQ(message->body, body);
  queue.close();
}

TEST(Capacity, a_message_larger_than_the_capacity_fails_at_once_even_when_waiting_for_ever) {
  NameGuard name(unique_name("huge"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 128});
  queue.open("s");
  try {
    queue.append("", std::string(112, 'b'), Deadline::never()); // 129 -> 136 bytes
    FAIL() << "an oversize append returned";
  } catch (const QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), 136U);
    EXPECT_NE(std::string(error.what()).find("can never fit"), std::string::npos) << error.what();
  }
  queue.close();
}

TEST(Capacity, a_blocking_append_waits_until_a_reader_frees_space) {
  NameGuard name(unique_name("block"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("w");
  queue.screened_senders().insert("w");
  Pipe registered;
  Pipe filled;
  Child reader([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("r");
    registered.send('R');
    if (!filled.expect('F')) {
      return 2;
    }
    int read = 0;
    while (auto message = mine.pop(Deadline::after(20s))) {
      if (message->type == "last") {
        mine.close();
        return read == 6 ? 0 : 3;
      }
      ++read;
    }
    return 4;
  });
  ASSERT_TRUE(registered.expect('R'));
  EXPECT_EQ(fill(queue), 6);
  EXPECT_FALSE(queue.pop()); // consume our own (screened) copies: only the reader holds space
  filled.send('F');
  queue.append("last", "", Deadline::after(20s)); // blocks until the reader has read some
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

TEST(Capacity, a_blocking_append_that_times_out_throws_queue_full) {
  NameGuard name(unique_name("timeout"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("w");
  Pipe registered;
  Pipe done;
  Child idle([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("idle"); // never reads: holds every message
    registered.send('R');
    done.expect('D', 30s);
    mine.close();
    return 0;
  });
  ASSERT_TRUE(registered.expect('R'));
  fill(queue);
  while (queue.pop()) { // our own copies: now only the idle member holds the space
  }
  const auto start = pysyncq::Clock::now();
  EXPECT_THROW(queue.append("t", std::string(16, 'x'), Deadline::after(50ms)), QueueFull);
  EXPECT_GE(pysyncq::Clock::now() - start, 50ms); // never before its deadline
  done.send('D');
  EXPECT_EQ(idle.wait(), 0);
  queue.close();
}

TEST(Capacity, closing_frees_everything_the_member_had_not_read) {
  NameGuard name(unique_name("closefree"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("w");
  Pipe registered;
  Pipe close_now;
  Pipe closed;
  Child idle([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("idle");
    registered.send('R');
    if (!close_now.expect('C')) {
      return 2;
    }
    mine.close();
    closed.send('X');
    return 0;
  });
  ASSERT_TRUE(registered.expect('R'));
  fill(queue);
  while (queue.pop()) {
  }
  EXPECT_EQ(queue.stats().used_bytes, 240U);
  close_now.send('C');
  ASSERT_TRUE(closed.expect('X'));
  EXPECT_EQ(queue.stats().used_bytes, 0U);
  EXPECT_EQ(fill(queue), 6);
  EXPECT_EQ(idle.wait(), 0);
  queue.close();
}
