// The ring's own arithmetic: a message that fills the remaining space to the byte fits,
// also after a full lap. What every backend promises about capacity (full queues,
// blocking appends, timeouts, the bytes a close frees) is in tests/contract.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>

using pysyncq::Queue;
using pysyncq::testing::NameGuard;
using pysyncq::testing::unique_name;

TEST(Capacity, a_message_that_fills_the_remaining_space_to_the_byte_fits) {
  NameGuard name(unique_name("exact"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 128});
  queue.open("s");
  // 16 header + 1 sender + 0 type + 111 body = 128: exactly the capacity.
  EXPECT_TRUE(queue.try_append("", std::string(111, 'b')));
  EXPECT_FALSE(queue.try_append("", ""));
  auto message = queue.pop();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, std::string(111, 'b'));
  // Now at offset 0 again after a full lap; split it into two exact halves.
  EXPECT_TRUE(queue.try_append("", std::string(47, 'c')));
  EXPECT_TRUE(queue.try_append("", std::string(47, 'd')));
  EXPECT_FALSE(queue.try_append("", ""));
  EXPECT_EQ(queue.pop()->body, std::string(47, 'c'));
  EXPECT_EQ(queue.pop()->body, std::string(47, 'd'));
  queue.close();
}
