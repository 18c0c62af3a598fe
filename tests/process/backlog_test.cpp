// The backlog of a blocked appender (docs/design.md, "Blocked appenders") in everything a
// pop covers: the zero-copy visitor, fork, close, and a registration shared by threads.
#include "support/checked_message.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using namespace pysyncq::testing;

namespace {

constexpr std::uint64_t kCapacity = 1024;

// Fills the ring with "m<i>" messages, then appends `extra` more blocking: each of those
// moves what the lone member holds into its backlog. Returns how many it appended.
int fill_with_backlog(Queue &queue, int extra) {
  int appended = 0;
  while (queue.try_append("t", "m" + std::to_string(appended))) {
    ++appended;
  }
  for (int i = 0; i < extra; ++i, ++appended) {
    queue.append("t", "m" + std::to_string(appended), Deadline::after(10s));
  }
  return appended;
}

TEST(Backlog, TheVisitorSeesBacklogMessagesFirstThenTheRingInOneOrder) {
  NameGuard name(unique_name("backlog-visit"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  queue.open("me");
  const int appended = fill_with_backlog(queue, 3);
  ASSERT_GT(queue.stats().member_list[0].backlog_messages, 0U);
  for (int i = 0; i < appended; ++i) {
    std::string seen;
    ASSERT_TRUE(queue.try_pop_visit([&](const pysyncq::MessageView &view) {
      EXPECT_EQ(view.sender, "me");
      seen.assign(view.body);
    }));
    EXPECT_EQ(seen, "m" + std::to_string(i));
  }
  EXPECT_FALSE(queue.try_pop_visit([](const pysyncq::MessageView &) {}));
  queue.close();
}

TEST(Backlog, AVisitorThatThrowsLeavesTheBacklogMessageUnread) {
  NameGuard name(unique_name("backlog-throw"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  queue.open("me");
  fill_with_backlog(queue, 1);
  EXPECT_THROW(queue.try_pop_visit([](const pysyncq::MessageView &) { throw 7; }), int);
  const auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "m0");
  queue.close();
}

TEST(Backlog, AForkedChildThatOpensTheHandleNeverReadsItsParentsBacklog) {
  PYSYNCQ_SKIP_WITHOUT_FORK();
  NameGuard name(unique_name("backlog-fork"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  queue.open("parent");
  const int appended = fill_with_backlog(queue, 2);
  Child child([&] {
    queue.open("child"); // the inherited handle, registered anew
    const auto message = queue.pop();
    queue.close();
    return message ? 1 : 0;
  });
  EXPECT_EQ(child.wait(), 0) << "the child read a message from before it opened";
  for (int i = 0; i < appended; ++i) {
    const auto message = queue.pop();
    ASSERT_TRUE(message) << i;
    EXPECT_EQ(message->body, "m" + std::to_string(i));
  }
  queue.close();
}

TEST(Backlog, CloseDropsTheBacklogAsItDropsUnreadMessages) {
  NameGuard name(unique_name("backlog-close"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  Queue keeper = Queue::attach(name.name()); // keeps the name while we reopen
  keeper.open("keeper");
  keeper.screened_senders().insert("me"); // holds nothing of ours
  queue.open("me");
  queue.screened_senders().insert("keeper");
  fill_with_backlog(queue, 0);
  (void)keeper.pop(); // skips ours: only "me" holds them now
  queue.append("t", "one more", Deadline::after(10s)); // moves ours into our backlog
  ASSERT_GT(queue.stats().member_list.back().backlog_messages, 0U);
  queue.close();
  queue.open("me");
  EXPECT_FALSE(queue.pop()) << "a backlog outlived its registration";
  for (const pysyncq::MemberStats &member : queue.stats().member_list) {
    EXPECT_EQ(member.backlog_messages, 0U);
  }
  queue.close();
  keeper.close();
}

// One registration, two threads: one appends (blocking), one reads. Another process
// appends too. The reader gets every message exactly once, each stream in order.
TEST(Backlog, ThreadsSharingARegistrationReadEveryMessageOnceWhileOneAppendsBlocking) {
  NameGuard name(unique_name("backlog-threads"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  queue.open("shared");
  constexpr int kEach = 2000;
  Pipe registered;
  Pipe go;
  Child other = spawn_child(
      [](const std::string &queue_name, const Pipe &registered, const Pipe &go) {
        Queue mine = Queue::attach(queue_name);
        mine.open("other");
        mine.screened_senders().insert("other");
        registered.send('r');
        if (!go.expect('g')) {
          return 2;
        }
        for (int i = 0; i < kEach; ++i) {
          mine.append("o", make_checked_body(2, static_cast<std::uint64_t>(i), 100),
                      Deadline::after(30s));
          while (mine.pop()) {
          }
        }
        while (mine.pop(Deadline::after(1s))) {
        }
        mine.close();
        return 0;
      },
      name.name(), registered, go);
  ASSERT_TRUE(registered.expect('r'));
  go.send('g');
  std::thread appender([&] {
    for (int i = 0; i < kEach; ++i) {
      queue.append("s", make_checked_body(1, static_cast<std::uint64_t>(i), 100),
                   Deadline::after(30s));
    }
  });
  std::vector<std::uint64_t> next(3, 0);
  int got = 0;
  const Deadline give_up = Deadline::after(60s);
  while (got < 2 * kEach && !give_up.has_passed()) {
    const auto message = queue.pop(Deadline::after(100ms));
    if (!message) {
      continue;
    }
    const auto id = parse_checked_body(message->body);
    ASSERT_TRUE(id) << "torn message";
    ASSERT_EQ(id->seq, next[id->stream]) << "stream " << id->stream;
    ++next[id->stream];
    ++got;
  }
  appender.join();
  EXPECT_EQ(got, 2 * kEach);
  EXPECT_EQ(other.wait(), 0);
  queue.close();
}

} // namespace

// Every wait policy, spin_only() included, goes through the blocked append's work: moving
// its own unread messages into its backlog, and reaping a dead member that holds the
// space. (A spinning appender once spun until its deadline here, for ever without one:
// its own space ticket made the lock-free "is there room" look say no, and a spin never
// reached the locked look. The appends below have a deadline of kPatience and must get
// their room long before it: a correct wait takes milliseconds.)
TEST(Backlog, EveryWaitPolicyMovesItsOwnMessagesAndReapsADeadHolder) {
  constexpr auto kPatience = 60s;
  const auto append_in_time = [&](Queue &queue, const std::string &body) {
    const auto start = std::chrono::steady_clock::now();
    queue.append("t", body, Deadline::after(kPatience));
    return std::chrono::steady_clock::now() - start < kPatience / 2;
  };
  const std::vector<std::pair<const char *, pysyncq::WaitPolicy>> policies = {
      {"adaptive", pysyncq::WaitPolicy{}},
      {"sleep", pysyncq::WaitPolicy::sleep()},
      {"fixed 1 ms", pysyncq::WaitPolicy::fixed(1ms)},
      {"spin_only", pysyncq::WaitPolicy::spin_only()}};
  for (const auto &[label, policy] : policies) {
    SCOPED_TRACE(label);
    NameGuard name(unique_name("backlog-policy"));
    Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
    queue.open("me");
    queue.set_wait_policy(policy);
    int appended = 0;
    while (queue.try_append("t", "m" + std::to_string(appended))) {
      ++appended;
    }
    for (int i = 0; i < 3; ++i, ++appended) {
      ASSERT_TRUE(append_in_time(queue, "m" + std::to_string(appended)))
          << "room came only at the deadline";
    }
    for (int i = 0; i < appended; ++i) {
      const auto message = queue.pop();
      ASSERT_TRUE(message) << i;
      EXPECT_EQ(message->body, "m" + std::to_string(i));
    }
    // A member that opens and dies without closing holds everything appended after it.
    Child dead = spawn_child(
        [](const std::string &queue_name) -> int {
          Queue mine = Queue::attach(queue_name);
          mine.open("dies");
          std::_Exit(0); // no close: its slot stays, holding what comes next
        },
        name.name());
    ASSERT_EQ(dead.wait(), 0);
    while (queue.try_append("t", "fill")) {
      (void)queue.pop(); // ours move on; the dead member's cursor stays
    }
    EXPECT_TRUE(append_in_time(queue, "after the reap")) << "room came only at the deadline";
    queue.close();
  }
}
