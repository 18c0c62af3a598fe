// Opening and closing on every backend: the last close removes the queue, a forked
// child opens its own registration, names that exist or not fail as on shared memory,
// and stats name each member.
#include "contract.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;

namespace pysyncq::testing {

TEST_P(Contract, the_last_member_to_close_removes_the_queue_and_closing_twice_is_harmless) {
  const std::string name = fresh("last");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe close_now;
  Child other = spawn_child(
      [](const std::string &name, const Pipe &ready, const Pipe &close_now) {
        Queue mine = Queue::attach(name);
        mine.open("other");
        ready.send('R');
        if (!close_now.expect('C')) {
          return 3;
        }
        mine.close(); // the last one
        mine.close();
        return 0;
      },
      name, ready, close_now);
  ASSERT_TRUE(ready.expect('R'));
  queue.close();
  EXPECT_TRUE(backend_->exists(name)) << "one member is left";
  close_now.send('C');
  EXPECT_EQ(other.wait(), 0);
  EXPECT_FALSE(backend_->exists(name)) << "the queue outlived its last member";
  try {
    (void)Queue::attach(name);
    ADD_FAILURE() << "attached to a removed queue";
  } catch (const SyscallError &error) {
    EXPECT_EQ(error.error_number(), ENOENT) << error.what();
  }
  queue.close();
  EXPECT_FALSE(queue.is_open());
}

TEST_P(Contract, a_forked_child_must_open_its_own_registration) {
  PYSYNCQ_SKIP_WITHOUT_FORK();
  const std::string name = fresh("fork");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Child child([&] {
    if (queue.is_open()) {
      return 1; // the parent's registration must not look like ours
    }
    try {
      queue.append("t", "from an inherited registration");
      return 2;
    } catch (const NotOpen &) {
    }
    try {
      (void)queue.pop();
      return 3;
    } catch (const NotOpen &) {
    }
    queue.open("child");
    queue.append("t", "mine");
    auto own = queue.pop(Deadline::after(10s));
    queue.close(); // closes only the child's registration
    return own && own->sender == "child" ? 0 : 4;
  });
  EXPECT_EQ(child.wait(), 0);
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message) << "the parent's registration survived the child";
  EXPECT_EQ(message->sender, "child");
  EXPECT_EQ(message->body, "mine");
  EXPECT_TRUE(queue.is_open());
  EXPECT_TRUE(eventually_holds([&] { return queue.stats().members == 1; }));
  queue.close();
  EXPECT_FALSE(backend_->exists(name));
}

TEST_P(Contract, creating_a_taken_name_throws_eexist_and_attaching_a_missing_one_enoent) {
  const std::string name = fresh("exists");
  Queue queue = Queue::create(name, {.capacity_bytes = 4096});
  try {
    (void)Queue::create(name, {.capacity_bytes = 4096});
    ADD_FAILURE() << "created twice";
  } catch (const SyscallError &error) {
    EXPECT_EQ(error.error_number(), EEXIST) << error.what();
  }
  try {
    (void)Queue::attach(fresh("missing"));
    ADD_FAILURE() << "attached to nothing";
  } catch (const SyscallError &error) {
    EXPECT_EQ(error.error_number(), ENOENT) << error.what();
  }
  queue.close();
}

TEST_P(Contract, appending_before_open_throws_not_open_and_a_second_open_is_refused) {
  Queue queue = Queue::create(fresh("open"), {.capacity_bytes = 4096});
  EXPECT_THROW(queue.append("t", "b"), NotOpen);
  EXPECT_THROW((void)queue.pop(), NotOpen);
  queue.open("x");
  EXPECT_THROW(queue.open("y"), InvalidArgument);
  queue.close();
}

TEST_P(Contract, stats_name_each_member_and_what_it_has_not_read) {
  const std::string name = fresh("stats");
  Queue queue = Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("parent");
  Pipe ready;
  Pipe done;
  Child idle = spawn_child(
      [](const std::string &name, const Pipe &ready, const Pipe &done) {
        Queue mine = Queue::attach(name);
        mine.open("idle");
        ready.send('R');
        const bool told = done.expect('D', 30s);
        mine.close();
        return told ? 0 : 1;
      },
      name, ready, done);
  ASSERT_TRUE(ready.expect('R'));
  queue.append("t", "one");
  queue.append("t", "two");
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  EXPECT_TRUE(eventually_holds([&] {
    const Stats stats = queue.stats();
    if (stats.members != 2 || stats.queued_messages != 2) {
      return false;
    }
    for (const MemberStats &member : stats.member_list) {
      const bool right = member.sender == "idle"
                             ? member.pid == idle.pid() && member.unread_messages == 2
                             : member.pid == current_pid() && member.unread_messages == 0;
      if (!right || !member.alive) {
        return false;
      }
    }
    return true;
  }));
  done.send('D');
  EXPECT_EQ(idle.wait(), 0);
  queue.close();
}

} // namespace pysyncq::testing
