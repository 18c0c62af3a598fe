// The guide's promises on a nats:// queue, with real processes (fork): broadcast in one
// order, late joiners, timers, screening, a forked child's own registration, a killed
// reader's messages freed within the liveness, the last close, errors.
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::CreateOptions;
using pysyncq::Deadline;
using pysyncq::Message;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::eventually;
using pysyncq::testing::NatsTest;
using pysyncq::testing::Pipe;

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

class NatsQueue : public NatsTest {};

TEST_F(NatsQueue, every_member_reads_every_message_in_one_order_across_forked_processes) {
  constexpr int kChildren = 3;
  constexpr int kEach = 40;
  constexpr int kTotal = (kChildren + 1) * kEach;
  Queue queue = Queue::create(fresh("broadcast"), {.capacity_bytes = 1 << 20});
  queue.open("parent"); // before the fork: each child must make its own registration
  Pipe ready;
  Pipe go;
  Pipe orders;
  std::vector<Child> children;
  for (int index = 0; index < kChildren; ++index) {
    children.emplace_back([&, index] {
      if (queue.is_open()) {
        return 2; // the parent's registration is not the child's
      }
      queue.open("child" + std::to_string(index));
      ready.send('R');
      if (!go.expect('G')) {
        return 3;
      }
      for (int k = 0; k < kEach; ++k) {
        queue.append("n", std::to_string(k), Deadline::after(20s));
      }
      orders.send_text(read_all(queue, kTotal, Deadline::after(30s)));
      queue.close();
      return 0;
    });
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

TEST_F(NatsQueue, a_late_joiner_reads_only_what_is_appended_after_it_opens) {
  const std::string url = fresh("late");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  queue.append("t", "early");
  // Read before forking, so that no message is in flight to this process's NATS reader
  // thread when it forks: gcc 12's AddressSanitizer allocator is not fork-safe, and a
  // child forked while that thread allocates can hang in malloc. (nats.c's own locks are
  // taken care of by the fork guard, src/nats/fork_guard.hpp, in every build.)
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  Pipe ready;
  Pipe appended;
  Child late([&] {
    Queue mine = Queue::attach(url);
    mine.open("late");
    ready.send('R');
    if (!appended.expect('A')) {
      return 3;
    }
    auto first = mine.pop(Deadline::after(10s));
    if (!first || first->body != "late") {
      return 1;
    }
    return mine.pop(Deadline::after(300ms)) ? 2 : 0;
  });
  ASSERT_TRUE(ready.expect('R'));
  queue.append("t", "late");
  appended.send('A');
  EXPECT_EQ(late.wait(), 0);
  queue.close();
}

TEST_F(NatsQueue, a_blocking_pop_returns_nothing_when_its_timer_expires) {
  Queue queue = Queue::create(fresh("timer"), {.capacity_bytes = 1 << 16});
  queue.open("only");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(queue.pop(Deadline::after(300ms)));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 10s);
  EXPECT_FALSE(queue.pop()) << "a non-blocking pop of an empty queue";
  queue.close();
}

TEST_F(NatsQueue, a_blocked_pop_wakes_for_a_message_from_another_process) {
  const std::string url = fresh("wake");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Child reader([&] {
    Queue mine = Queue::attach(url);
    mine.open("reader");
    ready.send('R');
    auto message = mine.pop(Deadline::never());
    return message && message->body == "wake up" && message->sender == "parent" ? 0 : 1;
  });
  ASSERT_TRUE(ready.expect('R'));
  queue.append("t", "wake up");
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

TEST_F(NatsQueue, screened_messages_are_skipped_and_count_as_read) {
  const std::string url = fresh("screen");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe appended;
  Child reader([&] {
    Queue mine = Queue::attach(url);
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
      got += message->body + ",";
    }
    return got == "2,4," ? 0 : 1;
  });
  ASSERT_TRUE(ready.expect('R'));
  for (const auto &[type, body] : std::vector<std::pair<std::string, std::string>>{
           {"skip", "1"}, {"keep", "2"}, {"skip", "3"}, {"keep", "4"}}) {
    queue.append(type, body);
  }
  appended.send('A');
  EXPECT_EQ(reader.wait(), 0);
  while (queue.pop()) {
  }
  // Every message was read by both (screened ones included): the stream empties.
  EXPECT_TRUE(eventually([&] { return queue.stats().used_bytes == 0; }, 10s));
  queue.close();
}

TEST_F(NatsQueue, a_forked_child_needs_its_own_open) {
  Queue queue = Queue::create(fresh("fork"), {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Child child([&] {
    try {
      queue.append("t", "from an inherited registration");
      return 1;
    } catch (const pysyncq::NotOpen &) {
    }
    try {
      (void)queue.pop();
      return 2;
    } catch (const pysyncq::NotOpen &) {
    }
    queue.open("child");
    queue.append("t", "mine");
    auto own = queue.pop(Deadline::after(10s));
    queue.close();
    return own && own->sender == "child" ? 0 : 4;
  });
  EXPECT_EQ(child.wait(), 0);
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message) << "the parent's registration survived the child";
  EXPECT_EQ(message->body, "mine");
  queue.close();
}

TEST_F(NatsQueue, a_message_whose_visitor_throws_stays_unread) {
  Queue queue = Queue::create(fresh("visit"), {.capacity_bytes = 1 << 16});
  queue.open("only");
  queue.append("t", "kept");
  ASSERT_TRUE(queue.wait_for_message(Deadline::after(10s)));
  EXPECT_THROW(
      queue.try_pop_visit([](const pysyncq::MessageView &) { throw std::runtime_error("no"); }),
      std::runtime_error);
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "kept");
  queue.close();
}

TEST_F(NatsQueue, a_killed_reader_is_dropped_and_its_messages_freed_within_the_liveness) {
  const std::string url = fresh("kill");
  constexpr auto kLiveness = 1s;
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 20, .liveness = kLiveness});
  queue.open("parent");
  Pipe ready;
  Child reader([&] {
    Queue mine = Queue::attach(url);
    mine.open("doomed");
    ready.send('R');
    ::pause(); // holds every message unread until killed
    return 0;
  });
  ASSERT_TRUE(ready.expect('R'));
  for (int k = 0; k < 200; ++k) {
    queue.append("t", std::string(100, 'x'));
  }
  for (int k = 0; k < 200; ++k) {
    ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  }
  ASSERT_GT(queue.stats().used_bytes, 0U) << "the reader holds them";
  ASSERT_EQ(queue.stats().members, 2U);
  reader.kill_and_wait();
  const auto freed = eventually(
      [&] {
        const pysyncq::Stats stats = queue.stats();
        return stats.used_bytes == 0 && stats.members == 1;
      },
      10s);
  ASSERT_TRUE(freed) << "the killed reader's messages were never freed";
  EXPECT_LE(*freed, kLiveness + 1s) << "freed after " << freed->count() << " ms";
  queue.close();
}

// The server drops a member when its connection closes; a forked child must not keep
// its parent's connection open, or a killed parent would stay a member while it lives.
TEST_F(NatsQueue, a_killed_member_is_dropped_while_its_forked_children_live_on) {
  const std::string url = fresh("orphan");
  constexpr auto kLiveness = 1s;
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 20, .liveness = kLiveness});
  queue.open("observer");
  Pipe ready;
  Pipe grandchild_pid;
  Child parent([&] {
    Queue mine = Queue::attach(url);
    mine.open("doomed parent");
    Child *grandchild = new Child([&] { // never destroyed: the parent dies first
      ::pause();
      return 0;
    });
    grandchild_pid.send_text(std::to_string(grandchild->pid()));
    ready.send('R');
    ::pause();
    return 0;
  });
  std::string line;
  ASSERT_TRUE(grandchild_pid.receive_line(line, 20s));
  const pid_t grandchild = std::stoi(line);
  ASSERT_TRUE(ready.expect('R'));
  for (int k = 0; k < 50; ++k) {
    queue.append("t", "held by the parent");
  }
  for (int k = 0; k < 50; ++k) {
    ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  }
  ASSERT_GT(queue.stats().used_bytes, 0U);
  parent.kill_and_wait();
  const auto freed = eventually(
      [&] {
        const pysyncq::Stats stats = queue.stats();
        return stats.used_bytes == 0 && stats.members == 1;
      },
      10s);
  const bool grandchild_alive = ::kill(grandchild, 0) == 0;
  ::kill(grandchild, SIGKILL); // reparented to init, which reaps it
  ASSERT_TRUE(grandchild_alive) << "the check must run while the child lives";
  ASSERT_TRUE(freed) << "the forked child kept its dead parent's member alive";
  EXPECT_LE(*freed, kLiveness + 1s) << "freed after " << freed->count() << " ms";
  queue.close();
}

namespace {
// Deletes every member of a queue behind its back, as the server does to a member whose
// connection has been gone for the liveness.
void delete_members_on_the_server(const std::string &url) {
  const std::string servers = url.substr(0, url.rfind('/'));
  const std::string stream = "PYSYNCQ_" + url.substr(url.rfind('/') + 1);
  natsConnection *connection = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&connection, servers.c_str()), NATS_OK);
  jsCtx *js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, connection, nullptr), NATS_OK);
  jsConsumerInfoList *list = nullptr;
  ASSERT_EQ(js_Consumers(&list, js, stream.c_str(), nullptr, nullptr), NATS_OK);
  for (int index = 0; index < list->Count; ++index) {
    EXPECT_EQ(js_DeleteConsumer(js, stream.c_str(), list->List[index]->Name, nullptr, nullptr),
              NATS_OK);
  }
  jsConsumerInfoList_Destroy(list);
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
}
} // namespace

TEST_F(NatsQueue, a_member_the_server_dropped_is_told_so_and_may_open_again) {
  const std::string url = fresh("dropped");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .liveness = 500ms});
  queue.open("dropped");
  delete_members_on_the_server(url);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)queue.pop(Deadline::after(30s)), pysyncq::NotOpen);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_FALSE(queue.is_open());
  queue.open("again");
  queue.append("t", "back");
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "back");
  queue.close();
}

TEST_F(NatsQueue, the_last_close_deletes_the_queue) {
  const std::string url = fresh("last");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe closed;
  Child other([&] {
    Queue mine = Queue::attach(url);
    mine.open("other");
    ready.send('R');
    if (!closed.expect('C')) {
      return 3;
    }
    mine.close(); // the last one
    return 0;
  });
  ASSERT_TRUE(ready.expect('R'));
  queue.close();
  EXPECT_NO_THROW((void)Queue::attach(url)) << "one member is left";
  closed.send('C');
  EXPECT_EQ(other.wait(), 0);
  try {
    (void)Queue::attach(url);
    ADD_FAILURE() << "the queue outlived its last member";
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_EQ(error.error_number(), ENOENT) << error.what();
  }
}

TEST_F(NatsQueue, names_and_servers_fail_with_the_errors_of_shared_memory) {
  const std::string url = fresh("errors");
  Queue queue = Queue::create(url, {.capacity_bytes = 4096});
  try {
    (void)Queue::create(url, {.capacity_bytes = 4096});
    ADD_FAILURE() << "created twice";
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_EQ(error.error_number(), EEXIST) << error.what();
  }
  try {
    (void)Queue::attach(fresh("missing"));
    ADD_FAILURE() << "attached to nothing";
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_EQ(error.error_number(), ENOENT) << error.what();
  }
  try {
    (void)Queue::attach("nats://127.0.0.1:1/nobody-listens");
    ADD_FAILURE() << "connected to a closed port";
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_EQ(error.error_number(), ECONNREFUSED) << error.what();
  }
  EXPECT_THROW((void)Queue::create("nats://127.0.0.1/bad.name"), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(fresh("r"), {.replicas = 7}), pysyncq::InvalidArgument);
  EXPECT_THROW(queue.append("t", "b"), pysyncq::NotOpen);
  queue.open("x");
  EXPECT_THROW(queue.open("y"), pysyncq::InvalidArgument);
  queue.close();
}

TEST_F(NatsQueue, stats_name_each_member_and_its_backlog) {
  const std::string url = fresh("stats");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe done;
  Child idle([&] {
    Queue mine = Queue::attach(url);
    mine.open("idle");
    ready.send('R');
    return done.expect('D', 30s) ? 0 : 1;
  });
  ASSERT_TRUE(ready.expect('R'));
  queue.append("t", "one");
  queue.append("t", "two");
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  EXPECT_TRUE(eventually(
      [&] {
        const pysyncq::Stats stats = queue.stats();
        if (stats.members != 2 || stats.queued_messages != 2) {
          return false;
        }
        for (const pysyncq::MemberStats &member : stats.member_list) {
          const bool right = member.sender == "idle"
                                 ? member.pid == idle.pid() && member.unread_messages == 2
                                 : member.pid == ::getpid() && member.unread_messages == 0;
          if (!right || !member.alive) {
            return false;
          }
        }
        return true;
      },
      10s));
  done.send('D');
  EXPECT_EQ(idle.wait(), 0);
  queue.close();
}
