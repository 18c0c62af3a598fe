// What only a nats:// queue does, with real processes (fork): a killed member is dropped
// by the server within the liveness (its forked children do not keep it alive), a
// member the server dropped is told so, and the errors of servers and NATS names. The
// promises every backend keeps are in the contract suite (tests/contract).
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <csignal>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::eventually;
using pysyncq::testing::NatsTest;
using pysyncq::testing::Pipe;

class NatsQueue : public NatsTest {};

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

// Sibling processes forked from one parent that has used NATS must each get the server's
// answers to their own requests: nats.c's inbox names come from a generator that fork()
// copies, and when siblings shared an inbox, one member's open() returned on another's
// "consumer created" before its own consumer existed, and a message appended just after
// that open() never reached it (docs/nats.md). Here the siblings open and close in
// step, each appending right after its open() and reading its own message back.
TEST_F(NatsQueue, forked_siblings_each_get_the_answers_to_their_own_requests) {
  const std::string url = fresh("siblings");
  constexpr int kSiblings = 4;
  constexpr int kRounds = 25;
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 20});
  queue.open("parent"); // nats.c is in use before the forks
  Pipe ready;
  Pipe go;
  std::vector<Child> siblings;
  for (int index = 0; index < kSiblings; ++index) {
    siblings.emplace_back([&, index] {
      Queue mine = Queue::attach(url);
      ready.send('R');
      if (!go.expect('G')) {
        return 3;
      }
      const std::string name = "sibling" + std::to_string(index);
      for (int round = 0; round < kRounds; ++round) {
        mine.open(name); // throws if the server's answer is about another member
        const std::string marker = std::to_string(round);
        mine.append("mark", marker);
        bool seen = false;
        while (!seen) { // the others' messages come too
          auto message = mine.pop(Deadline::after(10s));
          if (!message) {
            return 1; // appended after open() returned, yet never delivered
          }
          seen = message->sender == name && message->body == marker;
        }
        mine.close();
      }
      return 0;
    });
  }
  for (int index = 0; index < kSiblings; ++index) {
    ASSERT_TRUE(ready.expect('R'));
  }
  for (int index = 0; index < kSiblings; ++index) {
    go.send('G');
  }
  for (Child &sibling : siblings) {
    EXPECT_EQ(sibling.wait(std::chrono::seconds(80)), 0);
  }
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

// EEXIST and ENOENT, as on shared memory, are in the contract suite.
TEST_F(NatsQueue, a_closed_port_a_bad_name_and_bad_replicas_fail_with_their_errors) {
  try {
    (void)Queue::attach("nats://127.0.0.1:1/nobody-listens");
    ADD_FAILURE() << "connected to a closed port";
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_EQ(error.error_number(), ECONNREFUSED) << error.what();
  }
  EXPECT_THROW((void)Queue::create("nats://127.0.0.1/bad.name"), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(fresh("r"), {.replicas = 7}), pysyncq::InvalidArgument);
}
