// Capacity on a nats:// queue: the byte limit refuses the append the test predicts from
// the server's own accounting, with QueueFull and its numbers; a blocked append waits
// its timer, or for another process to read; waiting on oneself is a Deadlock.
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::eventually;
using pysyncq::testing::NatsServers;
using pysyncq::testing::NatsTest;
using pysyncq::testing::Pipe;
using pysyncq::testing::predicted_charge;

namespace {

class NatsCapacity : public NatsTest, public ::testing::WithParamInterface<bool> {};

} // namespace

TEST_P(NatsCapacity, an_append_is_refused_at_the_predicted_count_with_the_sizes) {
  const bool file = GetParam();
  const std::string name = NatsServers::unique_queue("full");
  const auto charge = predicted_charge(file, name, 1, 1, 100);
  const std::uint64_t message = charge.charged;
  constexpr std::uint64_t kFits = 10;
  // Half a message more than 10, in whole granules: the queue keeps that capacity.
  const std::uint64_t capacity = kFits * message + (message / 2) / charge.granule * charge.granule;
  Queue queue =
      Queue::create(servers_->url(name), {.capacity_bytes = capacity, .file_storage = file});
  queue.open("w");
  const std::string body(100, 'b');
  for (std::uint64_t k = 0; k < kFits; ++k) {
    ASSERT_TRUE(queue.try_append("t", body)) << "append " << k << " of " << kFits;
  }
  EXPECT_FALSE(queue.try_append("t", body));
  // What append needs and what a wait for space must be given: the server's count (the
  // shared-memory record of the same message is smaller).
  EXPECT_EQ(queue.footprint("t", body), message);
  EXPECT_GT(queue.footprint("t", body), Queue::footprint(1, 1, body.size()));
  try {
    queue.append("t", body);
    ADD_FAILURE() << "the append past the limit went through";
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), message) << error.what();
    EXPECT_EQ(error.capacity_bytes(), capacity);
    EXPECT_EQ(error.free_bytes(), capacity - kFits * message);
    EXPECT_NE(std::string(error.what()).find("append needs"), std::string::npos) << error.what();
  }
  EXPECT_EQ(queue.capacity_bytes(), capacity);
  EXPECT_EQ(queue.stats().used_bytes, kFits * message);
  // Reading one frees one message's bytes: a blocking append waits for the ack to land.
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  queue.append("t", body, Deadline::after(10s));
  queue.close();
}

INSTANTIATE_TEST_SUITE_P(Storage, NatsCapacity, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "file" : "memory"; });

class NatsBlocking : public NatsTest {};

TEST_F(NatsBlocking, a_message_larger_than_the_queue_fails_at_once_even_with_a_timer) {
  Queue queue = Queue::create(fresh("huge"), {.capacity_bytes = 4096});
  queue.open("w");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(queue.append("t", std::string(5000, 'x'), Deadline::after(30s)), pysyncq::QueueFull);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  queue.close();
}

TEST_F(NatsBlocking,
       a_blocked_append_fails_when_its_timer_expires_and_succeeds_once_space_is_read) {
  const std::string url = fresh("block");
  Queue queue = Queue::create(url, {.capacity_bytes = 2048});
  queue.open("writer");
  Pipe ready;
  Pipe command;
  Pipe popped;
  Child reader([&] {
    Queue mine = Queue::attach(url);
    mine.open("reader");
    ready.send('R');
    if (!command.expect('P', 40s)) {
      return 3;
    }
    if (!mine.pop(Deadline::after(10s))) {
      return 1;
    }
    popped.send('p');
    return command.expect('Q', 40s) ? 0 : 4;
  });
  ASSERT_TRUE(ready.expect('R'));
  const std::string body(200, 'x');
  int appended = 0;
  while (queue.try_append("t", body)) {
    ++appended;
  }
  ASSERT_GT(appended, 2);
  for (int k = 0; k < appended; ++k) { // the writer reads its own: only the reader holds them
    ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    queue.append("t", body, Deadline::after(400ms));
    ADD_FAILURE() << "appended to a full queue";
  } catch (const pysyncq::Deadlock &error) {
    ADD_FAILURE() << "another member could read, yet: " << error.what();
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_NE(std::string(error.what()).find("timed out"), std::string::npos) << error.what();
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 400ms);
  EXPECT_LT(waited, 10s);
  command.send('P');
  queue.append("t", body, Deadline::after(20s)); // the reader's pop makes room
  EXPECT_TRUE(popped.expect('p'));
  command.send('Q');
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

// Issue 13 on NATS: a lone member blocked on its own unread messages moves them into its
// backlog (and acks them, freeing their space), so its appends go on; only when the
// backlog holds a capacity's worth too is it a Deadlock. Then it reads every message,
// once and in order.
TEST_F(NatsBlocking,
       a_lone_member_blocked_on_its_own_messages_moves_them_to_its_backlog_then_deadlocks) {
  const std::string name = pysyncq::testing::NatsServers::unique_queue("self");
  const auto charge = predicted_charge(false, name, 2, 1, 200);
  constexpr std::uint64_t kFits = 8;
  const std::uint64_t capacity = kFits * charge.charged;
  Queue queue = Queue::create(servers_->url(name), {.capacity_bytes = capacity});
  queue.open("me");
  const auto body = [](std::uint64_t k) {
    return std::to_string(1000 + k) + std::string(196, 'x');
  };
  std::uint64_t appended = 0;
  while (queue.try_append("t", body(appended))) {
    ++appended;
  }
  ASSERT_EQ(appended, kFits);
  const auto start = std::chrono::steady_clock::now();
  try {
    for (;;) {
      queue.append("t", body(appended), Deadline::after(60s));
      ++appended;
      ASSERT_LE(appended, 2 * kFits) << "the backlog outgrew the capacity";
    }
  } catch (const pysyncq::Deadlock &error) {
    ASSERT_EQ(error.blocked_pids().size(), 1U);
    EXPECT_EQ(error.blocked_pids()[0], ::getpid());
    EXPECT_NE(std::string(error.what()).find("backlog full"), std::string::npos) << error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "not by the timer";
  EXPECT_EQ(appended, 2 * kFits) << "a full stream and a full backlog";
  const pysyncq::Stats stats = queue.stats();
  ASSERT_EQ(stats.member_list.size(), 1U);
  EXPECT_EQ(stats.member_list[0].backlog_messages, kFits);
  EXPECT_EQ(stats.member_list[0].backlog_bytes, capacity);
  EXPECT_EQ(stats.member_list[0].unread_messages, appended);
  for (std::uint64_t k = 0; k < appended; ++k) {
    const auto message = queue.pop(Deadline::after(10s));
    ASSERT_TRUE(message) << "message " << k << " of " << appended;
    ASSERT_EQ(message->body, body(k)) << "in order, once each";
  }
  EXPECT_FALSE(queue.pop()) << "nothing twice";
  EXPECT_TRUE(eventually([&] { return queue.stats().used_bytes == 0; }, 20s)) << "space returns";
  queue.close();
}
