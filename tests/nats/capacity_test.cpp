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

namespace {

// What nats-server 2.9 charges for one of our messages, worked out here independently
// of src/nats: the headers "NATS/1.0\r\n" + "Pysyncq-Sender: S\r\n" + "Pysyncq-Type: T\r\n"
// + "Nats-Msg-Id: <20 chars>\r\n" + "\r\n", then the store's own framing.
std::uint64_t predicted_bytes(bool file, const std::string &queue, std::size_t sender,
                              std::size_t type, std::size_t body) {
  const std::uint64_t subject = std::string("pysyncq.").size() + queue.size();
  const std::uint64_t headers = 10 + (16 + sender + 2) + (14 + type + 2) + (13 + 20 + 2) + 2;
  return file ? 22 + subject + 4 + headers + body + 8 : 16 + subject + headers + body;
}

class NatsCapacity : public NatsTest, public ::testing::WithParamInterface<bool> {};

} // namespace

TEST_P(NatsCapacity, an_append_is_refused_at_the_predicted_count_with_the_sizes) {
  const bool file = GetParam();
  const std::string name = NatsServers::unique_queue("full");
  const std::uint64_t message = predicted_bytes(file, name, 1, 1, 100);
  constexpr std::uint64_t kFits = 10;
  const std::uint64_t capacity = kFits * message + message / 2;
  Queue queue =
      Queue::create(servers_->url(name), {.capacity_bytes = capacity, .file_storage = file});
  queue.open("w");
  const std::string body(100, 'b');
  for (std::uint64_t k = 0; k < kFits; ++k) {
    ASSERT_TRUE(queue.try_append("t", body)) << "append " << k << " of " << kFits;
  }
  EXPECT_FALSE(queue.try_append("t", body));
  try {
    queue.append("t", body);
    ADD_FAILURE() << "the append past the limit went through";
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), message) << error.what();
    EXPECT_EQ(error.capacity_bytes(), capacity);
    EXPECT_EQ(error.free_bytes(), capacity - kFits * message);
    EXPECT_NE(std::string(error.what()).find("append needs"), std::string::npos) << error.what();
  }
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

TEST_F(NatsBlocking, waiting_for_space_that_only_oneself_holds_is_a_deadlock) {
  Queue queue = Queue::create(fresh("deadlock"), {.capacity_bytes = 2048});
  queue.open("alone");
  while (queue.try_append("t", std::string(200, 'x'))) {
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    queue.append("t", std::string(200, 'x'), Deadline::after(60s));
    ADD_FAILURE() << "appended to a full queue";
  } catch (const pysyncq::Deadlock &error) {
    ASSERT_EQ(error.blocked_pids().size(), 1U);
    EXPECT_EQ(error.blocked_pids()[0], ::getpid());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "not by the timer";
  queue.close();
}
