// Issue 14: a nats:// queue refuses an append at its byte bound whoever is slow, as shared
// memory does. Before granules the server let in a message its check thought would fit,
// then deleted the oldest one to make room (interest retention notwithstanding): a member
// that did not read lost nothing only because the messages had reached its inbox, whose
// memory then grew without bound. Each count here is predicted from the server's own
// accounting (nats_fixture.hpp), and every message is checked to arrive once, in order.
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::eventually;
using pysyncq::testing::NatsServers;
using pysyncq::testing::NatsTest;
using pysyncq::testing::Pipe;
using pysyncq::testing::predicted_charge;

namespace {

// 100-byte bodies that say which message they are.
std::string body_of(std::uint64_t k) {
  const std::string number = std::to_string(k);
  return number + std::string(100 - number.size(), '.');
}

// Pops `count` messages (or until the deadline): their numbers, "0,1,2,".
std::string numbers_read(Queue &queue, std::uint64_t count, Deadline deadline) {
  std::string numbers;
  for (std::uint64_t k = 0; k < count; ++k) {
    auto message = queue.pop(deadline);
    if (!message) {
      return numbers + "<timeout>";
    }
    numbers += message->body.substr(0, message->body.find('.')) + ",";
  }
  return numbers;
}

std::string numbers_upto(std::uint64_t count) {
  std::string numbers;
  for (std::uint64_t k = 0; k < count; ++k) {
    numbers += std::to_string(k) + ",";
  }
  return numbers;
}

class NatsBound : public NatsTest {};

} // namespace

// The first case: a 4096-byte queue, one member appending 100-byte messages and
// never popping.
TEST_F(NatsBound, a_member_that_never_pops_is_refused_at_the_predicted_count_then_reads_all) {
  const std::string name = NatsServers::unique_queue("never");
  Queue queue = Queue::create(servers_->url(name), {.capacity_bytes = 4096});
  queue.open("w");
  const auto charge = predicted_charge(false, name, 1, 1, 100, 4096);
  ASSERT_EQ(queue.capacity_bytes(), 4096 / charge.granule * charge.granule);
  const std::uint64_t predicted = queue.capacity_bytes() / charge.charged;
  std::uint64_t appended = 0;
  while (queue.try_append("t", body_of(appended))) {
    ++appended;
    ASSERT_LE(appended, predicted) << "the bound did not hold";
  }
  EXPECT_EQ(appended, predicted);
  try {
    queue.append("t", body_of(appended));
    ADD_FAILURE() << "the append past the bound went through";
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_EQ(error.needed_bytes(), charge.charged) << error.what();
    EXPECT_EQ(error.free_bytes(), queue.capacity_bytes() - predicted * charge.charged);
  }
  pysyncq::Stats stats = queue.stats();
  EXPECT_EQ(stats.queued_messages, predicted) << "the stream deleted none to make room";
  EXPECT_EQ(stats.used_bytes, predicted * charge.charged);
  EXPECT_EQ(numbers_read(queue, predicted, Deadline::after(10s)), numbers_upto(predicted));
  EXPECT_FALSE(queue.pop()) << "nothing twice";
  ASSERT_TRUE(eventually([&] { return queue.stats().used_bytes == 0; }, 20s))
      << "reading gives the space back";
  for (std::uint64_t k = 0; k < predicted; ++k) {
    ASSERT_TRUE(queue.try_append("t", body_of(k))) << "again, append " << k;
  }
  EXPECT_FALSE(queue.try_append("t", body_of(predicted)));
  queue.close();
}

// The second case: one member opens and does not read; the other appends, reads
// its own messages, and is refused at the predicted count; its blocking append waits
// (and fails at its timer: another member could read, so this is no Deadlock) until the
// idle member reads, which releases it. The idle member reads every message once, in order.
TEST_F(NatsBound, an_idle_member_holds_the_space_until_its_reads_release_a_blocked_append) {
  const std::string name = NatsServers::unique_queue("idle");
  const std::string url = servers_->url(name);
  Queue queue = Queue::create(url, {.capacity_bytes = 4096});
  queue.open("w");
  const auto charge = predicted_charge(false, name, 1, 1, 100, 4096);
  const std::uint64_t predicted = queue.capacity_bytes() / charge.charged;
  Pipe ready;
  Pipe go;
  Pipe report;
  Child idle([&] {
    Queue mine = Queue::attach(url);
    mine.open("idle");
    ready.send('R');
    if (!go.expect('G', 60s)) {
      return 3;
    }
    // Everything appended before the blocked append, then the append it released.
    report.send_text(numbers_read(mine, predicted + 1, Deadline::after(30s)));
    report.send_text(mine.pop(Deadline::after(500ms)) ? "a duplicate" : "nothing more");
    mine.close();
    return 0;
  });
  ASSERT_TRUE(ready.expect('R'));
  std::uint64_t appended = 0;
  while (queue.try_append("t", body_of(appended))) {
    ++appended;
    ASSERT_LE(appended, predicted) << "the bound did not hold";
  }
  EXPECT_EQ(appended, predicted);
  EXPECT_EQ(numbers_read(queue, predicted, Deadline::after(10s)), numbers_upto(predicted))
      << "the writer reads its own: now only the idle member holds the space";
  try {
    queue.append("t", body_of(predicted), Deadline::after(300ms));
    ADD_FAILURE() << "appended while the idle member held every byte";
  } catch (const pysyncq::Deadlock &error) {
    ADD_FAILURE() << "another member could read, yet: " << error.what();
  } catch (const pysyncq::QueueFull &error) {
    EXPECT_NE(std::string(error.what()).find("timed out"), std::string::npos) << error.what();
  }
  EXPECT_EQ(queue.stats().queued_messages, predicted) << "still held by the idle member";
  go.send('G');
  // Only the idle member's reads can make this room: the writer has read everything.
  queue.append("t", body_of(predicted), Deadline::after(30s));
  std::string numbers;
  ASSERT_TRUE(report.receive_line(numbers, 40s));
  EXPECT_EQ(numbers, numbers_upto(predicted + 1));
  std::string more;
  ASSERT_TRUE(report.receive_line(more, 10s));
  EXPECT_EQ(more, "nothing more");
  EXPECT_EQ(idle.wait(), 0);
  EXPECT_EQ(numbers_read(queue, 1, Deadline::after(10s)), std::to_string(predicted) + ",");
  queue.close();
}

// File storage frames a message differently (a record header and a checksum): the bound
// holds there too.
TEST_F(NatsBound, a_file_queue_refuses_at_the_predicted_count_too) {
  const std::string name = NatsServers::unique_queue("file");
  Queue queue = Queue::create(servers_->url(name), {.capacity_bytes = 4099, .file_storage = true});
  queue.open("w");
  const auto charge = predicted_charge(true, name, 1, 1, 100, 4099);
  ASSERT_EQ(queue.capacity_bytes(), 4099 / charge.granule * charge.granule);
  const std::uint64_t predicted = queue.capacity_bytes() / charge.charged;
  std::uint64_t appended = 0;
  while (queue.try_append("t", body_of(appended))) {
    ++appended;
    ASSERT_LE(appended, predicted) << "the bound did not hold";
  }
  EXPECT_EQ(appended, predicted);
  EXPECT_EQ(queue.stats().queued_messages, predicted);
  EXPECT_EQ(numbers_read(queue, predicted, Deadline::after(10s)), numbers_upto(predicted));
  queue.close();
}
