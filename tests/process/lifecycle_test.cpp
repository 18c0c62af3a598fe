// Opening, closing, unlinking, member limits, fork and threads.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

TEST(Lifecycle, the_last_member_to_close_unlinks_the_segment_and_closing_twice_is_harmless) {
  NameGuard name(unique_name("last"));
  Queue queue = Queue::create(name.name());
  queue.open("parent");
  Pipe registered;
  Pipe close_now;
  Child child([&] {
    Queue mine = Queue::attach(name.name());
    mine.open("child");
    registered.send('R');
    if (!close_now.expect('C')) {
      return 2;
    }
    mine.close();
    mine.close();
    return 0;
  });
  ASSERT_TRUE(registered.expect('R'));
  close_now.send('C');
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(name.exists()); // the parent is still registered
  queue.close();
  EXPECT_FALSE(name.exists());
  queue.close();
  EXPECT_FALSE(queue.is_open());
}

TEST(Lifecycle, merely_attaching_and_detaching_never_unlinks) {
  NameGuard name(unique_name("attach"));
  Queue creator = Queue::create(name.name());
  {
    Queue observer = Queue::attach(name.name());
    (void)observer.stats();
  }
  EXPECT_TRUE(name.exists());
  creator.close(); // no member was ever registered: close removes it, as the original does
  EXPECT_FALSE(name.exists());
}

TEST(Lifecycle, segments_are_created_with_mode_0600_unless_asked_otherwise) {
  NameGuard name(unique_name("mode"));
  Queue queue = Queue::create(name.name());
  struct stat info {};
  ASSERT_EQ(::stat(("/dev/shm/" + name.name()).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  queue.close();
}

TEST(Lifecycle, one_open_more_than_the_member_limit_gets_a_clear_error) {
  NameGuard name(unique_name("limit"));
  Queue queue = Queue::create(name.name(), {.max_members = 2});
  queue.open("one");
  Queue second = Queue::attach(name.name());
  second.open("two");
  Queue third = Queue::attach(name.name());
  try {
    third.open("three");
    FAIL() << "a third member joined a queue limited to 2";
  } catch (const pysyncq::TooManyMembers &error) {
    EXPECT_NE(std::string(error.what()).find("already has 2 members"), std::string::npos);
  }
  second.close();
  third.open("three"); // a freed slot is reused
  third.close();
  queue.close();
}

TEST(Lifecycle, the_default_member_limit_is_at_least_256) {
  NameGuard name(unique_name("default-limit"));
  Queue queue = Queue::create(name.name());
  EXPECT_GE(queue.max_members(), 256U);
  std::vector<Queue> handles;
  for (int i = 0; i < 256; ++i) {
    handles.push_back(Queue::attach(name.name()));
    handles.back().open("m" + std::to_string(i));
  }
  EXPECT_EQ(queue.stats().members, 256U);
  for (Queue &handle : handles) {
    handle.close();
  }
}

TEST(Lifecycle, a_forked_child_must_open_its_own_registration) {
  NameGuard name(unique_name("fork"));
  Queue queue = Queue::create(name.name());
  queue.open("parent");
  Pipe done;
  Child child([&] {
    if (queue.is_open()) {
      return 2; // the parent's registration must not look like ours
    }
    try {
      queue.append("t", "b");
      return 3;
    } catch (const pysyncq::NotOpen &) {
    }
    queue.open("child");
    queue.append("from", "child");
    queue.close(); // closes only the child's registration
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "child");
  EXPECT_TRUE(queue.is_open());
  EXPECT_EQ(queue.stats().members, 1U);
  queue.close();
  EXPECT_FALSE(name.exists());
}

TEST(Lifecycle, threads_sharing_one_handle_pop_each_message_exactly_once) {
  NameGuard name(unique_name("threads"));
  constexpr int kMessages = 20000;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1 << 16});
  queue.open("self");
  std::atomic<int> popped{0};
  std::atomic<int> started{0};
  std::vector<std::vector<int>> seen(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      (void)queue.pop(); // from now on the handle is known to be shared by threads
      started.fetch_add(1);
      while (popped.load() < kMessages) {
        if (auto message = queue.pop(Deadline::after(50ms))) {
          seen[t].push_back(std::stoi(message->body));
          popped.fetch_add(1);
        }
      }
    });
  }
  while (started.load() < 3) {
    std::this_thread::yield();
  }
  // Once other threads use the handle, a full queue is not a deadlock for the appending
  // thread: they free the space it waits for.
  for (int i = 0; i < kMessages; ++i) {
    queue.append("n", std::to_string(i), Deadline::after(20s));
  }
  for (std::thread &thread : threads) {
    thread.join();
  }
  std::set<int> all;
  for (const auto &list : seen) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      EXPECT_LT(list[i - 1], list[i]); // each thread sees an increasing subsequence
    }
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(popped.load(), kMessages);
  queue.close();
}

// A member that appends and never reads holds its own messages: a blocking append moves
// them into its backlog (as many as the capacity) and goes on; once that is full too,
// nothing can free space and it gets Deadlock at once. Its pops then return every message,
// backlog first, in order.
TEST(Lifecycle, a_lone_member_blocked_on_its_own_messages_moves_them_to_its_backlog_then_deadlocks) {
  NameGuard name(unique_name("self-deadlock"));
  constexpr std::uint64_t kCapacity = 256;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kCapacity});
  queue.open("me");
  const std::uint64_t each = Queue::footprint(2, 1, 16);
  std::uint64_t appended = 0;
  while (queue.try_append("t", std::to_string(appended + 100) + std::string(13, 'x'))) {
    ++appended;
  }
  ASSERT_EQ(appended, kCapacity / each);
  try {
    for (;;) {
      queue.append("t", std::to_string(appended + 100) + std::string(13, 'x'), Deadline::never());
      ++appended;
      ASSERT_LE(appended, 2 * kCapacity / each) << "the backlog outgrew the capacity";
    }
  } catch (const pysyncq::Deadlock &error) {
    ASSERT_EQ(error.blocked_pids().size(), 1U);
    EXPECT_EQ(error.blocked_pids()[0], ::getpid());
    EXPECT_NE(std::string(error.what()).find("backlog full"), std::string::npos) << error.what();
  }
  EXPECT_EQ(appended, 2 * (kCapacity / each)) << "a full ring and a full backlog";
  const pysyncq::Stats stats = queue.stats();
  ASSERT_EQ(stats.member_list.size(), 1U);
  EXPECT_EQ(stats.member_list[0].backlog_messages, kCapacity / each);
  EXPECT_EQ(stats.member_list[0].backlog_bytes, (kCapacity / each) * each);
  EXPECT_EQ(stats.member_list[0].unread_messages, appended);
  for (std::uint64_t i = 0; i < appended; ++i) {
    const auto message = queue.pop();
    ASSERT_TRUE(message) << "message " << i << " of " << appended;
    EXPECT_EQ(message->body, std::to_string(i + 100) + std::string(13, 'x'));
  }
  EXPECT_FALSE(queue.pop());
  EXPECT_EQ(queue.stats().member_list[0].backlog_messages, 0U);
  queue.close();
}

TEST(Lifecycle, members_blocked_appending_while_holding_the_oldest_message_all_fail_with_deadlock) {
  NameGuard name(unique_name("deadlock"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 512});
  Pipe registered;
  Pipe go;
  std::vector<Child> children;
  for (int i = 0; i < 3; ++i) {
    children.emplace_back([&, i] {
      Queue mine = Queue::attach(name.name());
      mine.open("c" + std::to_string(i));
      registered.send('R');
      if (!go.expect('G')) {
        return 2;
      }
      try {
        for (;;) { // append for ever, never read: the queue must end it
          mine.append("t", std::string(64, 'x'), Deadline::never());
        }
      } catch (const pysyncq::Deadlock &) {
        mine.close();
        return 0;
      }
    });
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(registered.expect('R'));
  }
  for (int i = 0; i < 3; ++i) {
    go.send('G');
  }
  for (Child &child : children) {
    EXPECT_EQ(child.wait(30s), 0);
  }
  queue.close();
}

TEST(Lifecycle, two_processes_creating_one_name_at_once_make_exactly_one_queue) {
  for (int round = 0; round < 20; ++round) {
    NameGuard name(unique_name("race"));
    Pipe go_a;
    Pipe go_b;
    const auto racer = [&](Pipe &go) {
      return [&] {
        if (!go.expect('G')) {
          return 2;
        }
        try {
          Queue queue = Queue::create(name.name());
          return 10; // won: leave the segment for the parent to check and remove
        } catch (const pysyncq::SyscallError &error) {
          return error.error_number() == EEXIST ? 11 : 3;
        }
      };
    };
    Child a(racer(go_a));
    Child b(racer(go_b));
    go_a.send('G');
    go_b.send('G');
    const int result_a = a.wait();
    const int result_b = b.wait();
    EXPECT_EQ(result_a + result_b, 21) << "round " << round << ": " << result_a << ", " << result_b;
    Queue survivor = Queue::attach(name.name()); // a whole, valid queue
    survivor.close();
  }
}

TEST(Lifecycle, a_moved_from_handle_throws_not_open_and_closes_harmlessly) {
  NameGuard name(unique_name("moved"));
  Queue queue = Queue::create(name.name());
  queue.open("me");
  Queue moved = std::move(queue);
  EXPECT_THROW(queue.append("t", "b"), pysyncq::NotOpen); // NOLINT(bugprone-use-after-move)
  EXPECT_THROW((void)queue.pop(), pysyncq::NotOpen);      // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(queue.is_open());                          // NOLINT(bugprone-use-after-move)
  queue.close();                                          // NOLINT(bugprone-use-after-move)
  moved.append("t", "b");
  EXPECT_EQ(moved.pop()->body, "b");
  moved.close();
  EXPECT_FALSE(name.exists());
}
