// The event-loop file descriptor: readable when a message or space may be there.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <poll.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::spawn_child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

namespace {
bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd descriptor{fd, POLLIN, 0};
  return ::poll(&descriptor, 1, static_cast<int>(timeout.count())) == 1;
}
} // namespace

TEST(Notify, an_fd_armed_for_a_message_becomes_readable_when_another_process_appends) {
  NameGuard name(unique_name("notify"));
  Queue queue = Queue::create(name.name());
  queue.open("loop");
  const int fd = queue.notify_fd();
  queue.arm_for_message();
  EXPECT_FALSE(readable(fd, 50ms)); // nothing there yet
  Pipe go;
  Child writer = spawn_child(
      [](const std::string &queue_name, const Pipe &go) {
        Queue mine = Queue::attach(queue_name);
        mine.open("writer");
        if (!go.expect('G')) {
          return 2;
        }
        mine.append("t", "wake up");
        mine.close();
        return 0;
      },
      name.name(), go);
  go.send('G');
  ASSERT_TRUE(readable(fd, 20s));
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "wake up");
  queue.arm_for_message(); // clears the fd
  EXPECT_FALSE(readable(fd, 50ms));
  queue.disarm();
  EXPECT_EQ(writer.wait(), 0);
  queue.close();
}

TEST(Notify, an_fd_armed_for_space_becomes_readable_when_a_reader_frees_it) {
  NameGuard name(unique_name("notify-space"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 256});
  queue.open("w");
  Pipe registered;
  Pipe read_now;
  Child reader = spawn_child(
      [](const std::string &queue_name, const Pipe &registered, const Pipe &read_now) {
        Queue mine = Queue::attach(queue_name);
        mine.open("r");
        registered.send('R');
        if (!read_now.expect('N')) {
          return 2;
        }
        while (mine.pop()) {
        }
        mine.close();
        return 0;
      },
      name.name(), registered, read_now);
  ASSERT_TRUE(registered.expect('R'));
  while (queue.try_append("t", std::string(16, 'x'))) {
  }
  while (queue.pop()) {
  }
  queue.arm_for_space(Queue::footprint(1, 1, 16));
  EXPECT_FALSE(readable(queue.notify_fd(), 50ms));
  read_now.send('N');
  ASSERT_TRUE(readable(queue.notify_fd(), 20s));
  EXPECT_TRUE(queue.try_append("t", std::string(16, 'x')));
  EXPECT_EQ(reader.wait(), 0);
  queue.close();
}

TEST(Notify, an_armed_fd_becomes_readable_when_the_wait_can_never_succeed) {
  NameGuard name(unique_name("notify-never"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 128});
  queue.open("w");
  queue.arm_for_space(1000); // larger than the capacity
  ASSERT_TRUE(readable(queue.notify_fd(), 20s));
  EXPECT_THROW(queue.append("t", std::string(900, 'x')), pysyncq::QueueFull);
  queue.close();
}

TEST(Notify, a_forked_child_can_drop_and_reopen_a_handle_whose_notifier_thread_it_did_not_inherit) {
  NameGuard name(unique_name("notify-fork"));
  std::optional<Queue> queue = Queue::create(name.name());
  queue->open("parent");
  (void)queue->notify_fd();
  // The helper thread sleeps on its condition variable before we fork (see the helper).
  ASSERT_TRUE(pysyncq::testing::wait_until_other_threads_sleep());
  Child child([&] {
    queue->open("child"); // the handle works in the child, with a mutex of its own
    queue->arm_for_message();
    queue->append("t", "from the child");
    if (!readable(queue->notify_fd(), 20s)) {
      return 2;
    }
    queue.reset(); // must neither hang nor crash
    return 0;
  });
  EXPECT_EQ(child.wait(30s), 0);
  auto message = queue->pop(Deadline::after(20s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "from the child");
  queue->close();
}
