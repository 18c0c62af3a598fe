// File storage: a queue, its members and their unread messages survive a server that is
// killed (SIGKILL) and started again on the same store: nothing lost, nothing twice,
// and appends go on after the restart.
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::NatsTest;
using pysyncq::testing::Pipe;

class NatsRestart : public NatsTest {};

TEST_F(NatsRestart, file_storage_survives_a_killed_server_without_loss_or_duplicates) {
  constexpr int kBefore = 100;
  constexpr int kAfter = 50;
  const std::string url = fresh("restart");
  Queue queue =
      Queue::create(url, {.capacity_bytes = 1 << 20, .file_storage = true, .liveness = 10s});
  queue.open("writer");
  Pipe ready;
  Pipe half_read;
  Pipe restarted;
  Pipe verdict;
  Child reader([&] {
    Queue mine = Queue::attach(url);
    mine.open("reader");
    ready.send('R');
    int expected = 0;
    std::string problems;
    const auto read_until = [&](int end) {
      while (expected < end) {
        auto message = mine.pop(Deadline::after(30s));
        if (!message) {
          problems += "timed out at " + std::to_string(expected) + "; ";
          return;
        }
        if (message->body != std::to_string(expected)) {
          problems += "got " + message->body + " for " + std::to_string(expected) + "; ";
        }
        ++expected;
      }
    };
    read_until(kBefore * 2 / 5);
    half_read.send('H');
    if (!restarted.expect('S', 40s)) {
      return 3;
    }
    read_until(kBefore + kAfter);
    if (auto extra = mine.pop(Deadline::after(500ms))) {
      problems += "an extra message " + extra->body;
    }
    verdict.send_text(problems.empty() ? "ok" : problems);
    mine.close();
    return 0;
  });
  ASSERT_TRUE(ready.expect('R'));
  for (int k = 0; k < kBefore; ++k) {
    queue.append("n", std::to_string(k), Deadline::after(10s));
  }
  ASSERT_TRUE(half_read.expect('H', 40s));
  servers_->restart(0);
  restarted.send('S');
  for (int k = kBefore; k < kBefore + kAfter; ++k) {
    queue.append("n", std::to_string(k), Deadline::after(20s)); // reconnects, then resumes
  }
  std::string result;
  ASSERT_TRUE(verdict.receive_line(result, 60s));
  EXPECT_EQ(result, "ok");
  EXPECT_EQ(reader.wait(), 0);
  for (int k = 0; k < kBefore + kAfter; ++k) { // the writer's own copies, also exactly once
    auto message = queue.pop(Deadline::after(20s));
    ASSERT_TRUE(message) << k;
    EXPECT_EQ(message->body, std::to_string(k));
  }
  EXPECT_FALSE(queue.pop(Deadline::after(300ms)));
  queue.close();
}
