// Broadcast on every backend: every member reads every message appended while it is
// open, in one order, whoever wrote it; a blocked pop wakes for it, or returns nothing
// at its deadline; screened messages are skipped and count as read.
#include "contract.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;

namespace pysyncq::testing {

namespace {

// Pops until `count` messages came (or the deadline); "sender/body;..." in order.
std::string read_all(Queue &queue, int count, Deadline deadline) {
  std::string order;
  for (int got = 0; got < count; ++got) {
    auto message = queue.pop(deadline);
    if (!message) {
      return order + "<timeout after " + std::to_string(got) + ">";
    }
    order += message->sender + "/" + message->body + ";";
  }
  return order;
}

} // namespace

TEST_P(Contract, a_message_is_read_by_every_member_including_its_writer) {
  const std::string name = fresh("all");
  Queue queue = Queue::create(name, {.capacity_bytes = 4096});
  queue.open("parent");
  Pipe ready;
  std::vector<Child> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(spawn_child(
        [](const std::string &name, const Pipe &ready, int i) {
          Queue mine = Queue::attach(name);
          mine.open("reader" + std::to_string(i));
          ready.send('R');
          auto message = mine.pop(Deadline::after(20s));
          const bool ok = message && message->sender == "parent" && message->type == "greeting" &&
                          message->body == "hello";
          mine.close();
          return ok ? 0 : 1;
        },
        name, ready, i));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ready.expect('R'));
  }
  queue.append("greeting", "hello");
  auto own = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->body, "hello");
  for (Child &reader : readers) {
    EXPECT_EQ(reader.wait(), 0);
  }
  queue.close();
  EXPECT_FALSE(backend_->exists(name));
}

TEST_P(Contract, every_member_reads_every_message_in_one_order_across_processes) {
  constexpr int kChildren = 3;
  constexpr int kEach = 40;
  constexpr int kTotal = (kChildren + 1) * kEach;
  const std::string name = fresh("broadcast");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 20});
  queue.open("parent");
  Pipe ready;
  Pipe go;
  Pipe orders;
  std::vector<Child> children;
  for (int index = 0; index < kChildren; ++index) {
    children.push_back(spawn_child(
        [](const std::string &name, const Pipe &ready, const Pipe &go, const Pipe &orders,
           int index) {
          Queue mine = Queue::attach(name);
          mine.open("child" + std::to_string(index));
          ready.send('R');
          if (!go.expect('G')) {
            return 3;
          }
          for (int k = 0; k < kEach; ++k) {
            mine.append("n", std::to_string(k), Deadline::after(20s));
          }
          orders.send_text(read_all(mine, kTotal, Deadline::after(30s)));
          mine.close();
          return 0;
        },
        name, ready, go, orders, index));
  }
  for (int index = 0; index < kChildren; ++index) {
    ASSERT_TRUE(ready.expect('R'));
  }
  for (int index = 0; index < kChildren; ++index) {
    go.send('G');
  }
  for (int k = 0; k < kEach; ++k) {
    queue.append("n", std::to_string(k), Deadline::after(20s));
  }
  const std::string mine = read_all(queue, kTotal, Deadline::after(30s));
  EXPECT_EQ(mine.find("<timeout"), std::string::npos) << mine;
  for (int index = 0; index < kChildren; ++index) {
    std::string theirs;
    ASSERT_TRUE(orders.receive_line(theirs, 40s));
    EXPECT_EQ(theirs, mine) << "every member sees one order";
  }
  for (Child &child : children) {
    EXPECT_EQ(child.wait(), 0);
  }
  EXPECT_FALSE(queue.pop()) << "nothing more, nothing twice";
  queue.close();
}

TEST_P(Contract, a_member_that_opens_late_reads_only_what_is_appended_after_it_opened) {
  const std::string name = fresh("late");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("early");
  queue.append("old", "before the late member");
  // Read before forking, so that no message is in flight to a NATS reader thread of this
  // process when it forks: gcc 12's AddressSanitizer allocator is not fork-safe, and a
  // child forked while that thread allocates can hang in malloc.
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  Pipe opened;
  Pipe appended;
  Child late = spawn_child(
      [](const std::string &name, const Pipe &opened, const Pipe &appended) {
        Queue mine = Queue::attach(name);
        mine.open("late");
        opened.send('O');
        if (!appended.expect('A')) {
          return 3;
        }
        auto first = mine.pop(Deadline::after(10s));
        if (!first || first->type != "new" || first->body != "after the late member") {
          return 1;
        }
        return mine.pop(Deadline::after(300ms)) ? 2 : 0;
      },
      name, opened, appended);
  ASSERT_TRUE(opened.expect('O'));
  queue.append("new", "after the late member");
  appended.send('A');
  EXPECT_EQ(late.wait(), 0);
  queue.close();
}

TEST_P(Contract, a_blocked_pop_wakes_for_a_message_from_another_process) {
  const std::string name = fresh("wake");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &ready) {
        Queue mine = Queue::attach(name);
        mine.open("reader");
        ready.send('R'); // it is asleep in pop, or about to be: either way it must wake
        auto message = mine.pop(Deadline::never());
        return message && message->body == "wake up" && message->sender == "parent" ? 0 : 1;
      },
      name, ready);
  ASSERT_TRUE(ready.expect('R'));
  queue.append("t", "wake up");
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

TEST_P(Contract, a_blocking_pop_returns_nothing_once_its_deadline_passes) {
  Queue queue = Queue::create(fresh("timer"), {.capacity_bytes = 1 << 16});
  queue.open("only");
  const auto start = Clock::now();
  EXPECT_FALSE(queue.pop(Deadline::after(300ms)));
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 300ms) << "never before its deadline";
  EXPECT_LT(waited, 10s) << "nor long after it";
  EXPECT_FALSE(queue.pop()) << "a non-blocking pop of an empty queue";
  queue.close();
}

TEST_P(Contract, screened_messages_are_skipped_and_count_as_read) {
  const std::string name = fresh("screen");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe appended;
  Child reader = spawn_child(
      [](const std::string &name, const Pipe &ready, const Pipe &appended) {
        Queue mine = Queue::attach(name);
        mine.open("reader");
        mine.screened_types().insert("skip");
        mine.screened_senders().insert("reader");
        mine.append("keep", "my own: screened by sender");
        ready.send('R');
        if (!appended.expect('A')) {
          return 3;
        }
        std::string got;
        while (auto message = mine.pop(Deadline::after(2s))) {
          if (message->sender != "parent") {
            return 2;
          }
          got += message->body + ",";
        }
        mine.close();
        return got == "2,4," ? 0 : 1;
      },
      name, ready, appended);
  ASSERT_TRUE(ready.expect('R'));
  for (const auto &[type, body] : std::vector<std::pair<std::string, std::string>>{
           {"skip", "1"}, {"keep", "2"}, {"skip", "3"}, {"keep", "4"}}) {
    queue.append(type, body);
  }
  appended.send('A');
  EXPECT_EQ(reader.wait(), 0);
  queue.screened_senders().insert("parent");
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "reader");
  EXPECT_EQ(message->body, "my own: screened by sender");
  EXPECT_FALSE(queue.pop(Deadline::after(300ms))) << "our own are screened now";
  // Every message was read by both (screened ones included): nothing holds space.
  EXPECT_TRUE(eventually_holds([&] { return queue.stats().used_bytes == 0; }));
  queue.close();
}

TEST_P(Contract, screened_messages_do_not_restart_the_deadline_of_a_blocking_pop) {
  const std::string name = fresh("onedeadline");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("reader");
  queue.screened_types().insert("noise");
  Pipe registered;
  Pipe stop;
  Child noisy = spawn_child(
      [](const std::string &name, const Pipe &registered, const Pipe &stop) {
        Queue mine = Queue::attach(name);
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
      },
      name, registered, stop);
  ASSERT_TRUE(registered.expect('R'));
  EXPECT_FALSE(queue.pop(Deadline::after(300ms)));
  stop.send('S');
  EXPECT_EQ(noisy.wait(), 0);
  queue.close();
}

TEST_P(Contract, a_message_whose_visitor_throws_stays_unread) {
  Queue queue = Queue::create(fresh("visit"), {.capacity_bytes = 1 << 16});
  queue.open("only");
  queue.append("t", "kept");
  ASSERT_TRUE(queue.wait_for_message(Deadline::after(10s)));
  EXPECT_THROW(queue.try_pop_visit([](const MessageView &) { throw std::runtime_error("no"); }),
               std::runtime_error);
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "kept");
  queue.close();
}

TEST_P(Contract, empty_fields_and_binary_bytes_including_nul_round_trip) {
  Queue queue = Queue::create(fresh("bytes"), {.capacity_bytes = 1 << 16});
  queue.open("x");
  queue.append("", "");
  std::string body;
  for (int i = 0; i < 256; ++i) {
    body += static_cast<char>(i);
  }
  queue.append(std::string("t\0y", 3), body);
  auto empty = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->sender, "x");
  EXPECT_EQ(empty->type, "");
  EXPECT_EQ(empty->body, "");
  auto binary = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(binary);
  EXPECT_EQ(binary->type, std::string("t\0y", 3));
  EXPECT_EQ(binary->body, body);
  queue.close();
}

} // namespace pysyncq::testing
