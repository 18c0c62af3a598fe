// Capacity on every backend: the append that does not fit is refused with the sizes the
// backend's own accounting predicts (Backend::charge); a blocked append waits for its
// deadline or for another member to read; a lone member blocked on its own messages
// moves them into its backlog, then gets Deadlock; a close frees what it had not read.
#include "contract.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;

namespace pysyncq::testing {

TEST_P(Contract, a_full_queue_refuses_an_append_with_the_sizes_in_the_message) {
  const std::string name = fresh("full");
  const std::uint64_t each = backend_->charge(name, 1, 1, 100);
  const std::uint64_t granule = backend_->granule(name);
  constexpr std::uint64_t kFits = 10;
  // Half a message more than 10, in whole granules: the queue keeps that capacity.
  const std::uint64_t capacity = kFits * each + (each / 2) / granule * granule;
  Queue queue = Queue::create(name, {.capacity_bytes = capacity});
  queue.open("w");
  EXPECT_EQ(queue.capacity_bytes(), capacity);
  const std::string body(100, 'b');
  for (std::uint64_t k = 0; k < kFits; ++k) {
    ASSERT_TRUE(queue.try_append("t", body)) << "append " << k << " of " << kFits;
  }
  EXPECT_FALSE(queue.try_append("t", body));
  // What append needs, counted as this backend counts: what a wait for space is given.
  EXPECT_EQ(queue.footprint("t", body), each);
  const std::uint64_t free_bytes = capacity - kFits * each;
  try {
    queue.append("t", body);
    ADD_FAILURE() << "the append past the limit went through";
  } catch (const QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), each) << error.what();
    EXPECT_EQ(error.free_bytes(), free_bytes);
    EXPECT_EQ(error.capacity_bytes(), capacity);
    const std::string sizes = "append needs " + std::to_string(each) + " bytes; " +
                              std::to_string(free_bytes) + " of " + std::to_string(capacity) +
                              " free";
    EXPECT_NE(std::string(error.what()).find(sizes), std::string::npos) << error.what();
  }
  EXPECT_EQ(queue.stats().used_bytes, kFits * each);
  // Reading one frees one message's bytes: a blocking append waits until it has.
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  queue.append("t", body, Deadline::after(10s));
  queue.close();
}

TEST_P(Contract, a_message_larger_than_the_capacity_fails_at_once_even_when_waiting_for_ever) {
  const std::string name = fresh("huge");
  const std::uint64_t capacity = 4096 / backend_->granule(name) * backend_->granule(name);
  Queue queue = Queue::create(name, {.capacity_bytes = capacity});
  queue.open("w");
  const std::string body(capacity, 'x');
  try {
    queue.append("t", body, Deadline::never());
    ADD_FAILURE() << "an oversize append returned";
  } catch (const QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), backend_->charge(name, 1, 1, body.size())) << error.what();
    EXPECT_EQ(error.capacity_bytes(), capacity);
    EXPECT_NE(std::string(error.what()).find("can never fit"), std::string::npos) << error.what();
  }
  queue.close();
}

TEST_P(Contract, a_blocked_append_fails_at_its_deadline_and_succeeds_once_another_member_reads) {
  const std::string name = fresh("block");
  Queue queue = Queue::create(name, {.capacity_bytes = 2048});
  queue.open("writer");
  Pipe ready;
  Pipe command;
  Pipe popped;
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &ready, const Pipe &command, const Pipe &popped) {
        Queue mine = Queue::attach(name);
        mine.open("reader");
        ready.send('R');
        if (!command.expect('P', 40s)) {
          return 3;
        }
        if (!mine.pop(Deadline::after(10s))) {
          return 1;
        }
        popped.send('p');
        const bool told = command.expect('Q', 40s);
        mine.close();
        return told ? 0 : 4;
      },
      name, ready, command, popped);
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
  const auto start = Clock::now();
  try {
    queue.append("t", body, Deadline::after(400ms));
    ADD_FAILURE() << "appended to a full queue";
  } catch (const Deadlock &error) {
    ADD_FAILURE() << "another member could read, yet: " << error.what();
  } catch (const QueueFull &error) {
    EXPECT_NE(std::string(error.what()).find("timed out"), std::string::npos) << error.what();
  }
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 400ms) << "never before its deadline";
  EXPECT_LT(waited, 10s) << "nor long after it";
  command.send('P');
  queue.append("t", body, Deadline::after(20s)); // the reader's pop makes room
  EXPECT_TRUE(popped.expect('p'));
  command.send('Q');
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

// Issue 13: a lone member blocked on its own unread messages moves them into its backlog
// (freeing their space), so its appends go on; only when the backlog holds a capacity's
// worth too is it a Deadlock, at once. Then it reads every message, once and in order.
TEST_P(Contract,
       a_lone_member_blocked_on_its_own_messages_moves_them_to_its_backlog_then_deadlocks) {
  const std::string name = fresh("self");
  const std::uint64_t each = backend_->charge(name, 2, 1, 200);
  constexpr std::uint64_t kFits = 8;
  const std::uint64_t capacity = kFits * each;
  Queue queue = Queue::create(name, {.capacity_bytes = capacity});
  queue.open("me");
  const auto body = [](std::uint64_t k) {
    return std::to_string(1000 + k) + std::string(196, 'x');
  };
  std::uint64_t appended = 0;
  while (queue.try_append("t", body(appended))) {
    ++appended;
  }
  ASSERT_EQ(appended, kFits);
  try {
    for (;;) {
      queue.append("t", body(appended), Deadline::never());
      ++appended;
      ASSERT_LE(appended, 2 * kFits) << "the backlog outgrew the capacity";
    }
  } catch (const Deadlock &error) {
    ASSERT_EQ(error.blocked_pids().size(), 1U);
    EXPECT_EQ(error.blocked_pids()[0], current_pid());
    EXPECT_NE(std::string(error.what()).find("backlog full"), std::string::npos) << error.what();
  }
  EXPECT_EQ(appended, 2 * kFits) << "a full queue and a full backlog";
  const Stats stats = queue.stats();
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
  EXPECT_EQ(queue.stats().member_list[0].backlog_messages, 0U);
  EXPECT_TRUE(eventually_holds([&] { return queue.stats().used_bytes == 0; })) << "space returns";
  queue.close();
}

TEST_P(Contract, closing_frees_everything_the_member_had_not_read) {
  const std::string name = fresh("closefree");
  const std::uint64_t each = backend_->charge(name, 1, 1, 16);
  constexpr std::uint64_t kFits = 6;
  Queue queue = Queue::create(name, {.capacity_bytes = kFits * each});
  queue.open("w");
  Pipe registered;
  Pipe close_now;
  Pipe closed;
  Child idle = spawn_child(
      [](const std::string &name, const Pipe &registered, const Pipe &close_now,
         const Pipe &closed) {
        Queue mine = Queue::attach(name);
        mine.open("idle");
        registered.send('R');
        if (!close_now.expect('C')) {
          return 2;
        }
        mine.close();
        closed.send('X');
        return 0;
      },
      name, registered, close_now, closed);
  ASSERT_TRUE(registered.expect('R'));
  const auto fill = [&] {
    std::uint64_t appended = 0;
    while (queue.try_append("t", std::string(16, 'x'))) {
      ++appended;
    }
    return appended;
  };
  ASSERT_EQ(fill(), kFits);
  for (std::uint64_t k = 0; k < kFits; ++k) { // our own: now only the idle member holds them
    ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  }
  EXPECT_EQ(queue.stats().used_bytes, kFits * each);
  close_now.send('C');
  ASSERT_TRUE(closed.expect('X'));
  EXPECT_TRUE(eventually_holds([&] { return queue.stats().used_bytes == 0; }));
  EXPECT_EQ(fill(), kFits);
  EXPECT_EQ(idle.wait(), 0);
  queue.close();
}

} // namespace pysyncq::testing
