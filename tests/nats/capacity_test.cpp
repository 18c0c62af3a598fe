// Capacity on a file-storage nats:// queue: the byte limit refuses the append the test
// predicts from the server's own accounting of a file store (a record header and a
// checksum), with QueueFull and its numbers. Memory storage, blocked appends and the
// backlog's Deadlock are in the contract suite (tests/contract), for every backend.
#include "nats_fixture.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::NatsServers;
using pysyncq::testing::NatsTest;
using pysyncq::testing::predicted_charge;

namespace {

class NatsCapacity : public NatsTest {};

} // namespace

TEST_F(NatsCapacity, a_file_queue_refuses_an_append_at_the_predicted_count_with_the_sizes) {
  constexpr bool file = true;
  const std::string name = NatsServers::unique_queue("full");
  const auto charge = predicted_charge(file, name, 1, 1, 100);
  const std::uint64_t message = charge.charged;
  constexpr std::uint64_t kFits = 10;
  // Half a message more than 10, in whole granules: the queue keeps that capacity.
  const std::uint64_t capacity = kFits * message + (message / 2) / charge.granule * charge.granule;
  Queue queue =
      Queue::create(servers_->url(name), {.capacity_bytes = capacity, .file_storage = file});
  queue.open("w");
  const std::string body(100, 'b');
  for (std::uint64_t k = 0; k < kFits; ++k) {
    ASSERT_TRUE(queue.try_append("t", body)) << "append " << k << " of " << kFits;
  }
  EXPECT_FALSE(queue.try_append("t", body));
  // What append needs and what a wait for space must be given: the server's count (the
  // shared-memory record of the same message is smaller).
  EXPECT_EQ(queue.footprint("t", body), message);
  EXPECT_GT(queue.footprint("t", body), Queue::footprint(1, 1, body.size()));
  try {
    queue.append("t", body);
    ADD_FAILURE() << "the append past the limit went through";
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), message) << error.what();
    EXPECT_EQ(error.capacity_bytes(), capacity);
    EXPECT_EQ(error.free_bytes(), capacity - kFits * message);
    EXPECT_NE(std::string(error.what()).find("append needs"), std::string::npos) << error.what();
  }
  EXPECT_EQ(queue.capacity_bytes(), capacity);
  EXPECT_EQ(queue.stats().used_bytes, kFits * message);
  // Reading one frees one message's bytes: a blocking append waits for the ack to land.
  ASSERT_TRUE(queue.pop(Deadline::after(10s)));
  queue.append("t", body, Deadline::after(10s));
  queue.close();
}
