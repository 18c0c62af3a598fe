// Shared memory alone: unlinking, file modes, member limits, threads sharing a handle,
// deadlocks among members and races on one name. Opening and closing as every backend
// does them are in tests/contract.
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
