// A pop that reads ahead (Queue::try_pop_visit and pop_into with read_ahead > 0,
// docs/design.md "Read-ahead"): the messages it moves into the handle's backlog are
// still this member's unread ones, served first by every read, screened when popped,
// and a blocked appender's backlog goes on from them in the one order.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Deadlock;
using pysyncq::Message;
using pysyncq::MessageView;
using pysyncq::Queue;
using namespace pysyncq::testing;

namespace {

// Bodies "m0", "m1", ... in order; `types` cycle.
void append_numbered(Queue &queue, int first, int count,
                     const std::vector<std::string> &types = {"t"}) {
  for (int i = first; i < first + count; ++i) {
    ASSERT_TRUE(queue.try_append(types[static_cast<std::size_t>(i) % types.size()],
                                 "m" + std::to_string(i)));
  }
}

std::string pop_body(Queue &queue, std::size_t read_ahead = 0) {
  Message message;
  return queue.pop_into(message, Deadline::now(), read_ahead) ? message.body : "(none)";
}

const pysyncq::MemberStats &member(const pysyncq::Stats &stats, const std::string &sender) {
  for (const pysyncq::MemberStats &entry : stats.member_list) {
    if (entry.sender == sender) {
      return entry;
    }
  }
  throw std::runtime_error("no member " + sender);
}

TEST(ReadAhead, APopMovesTheNextMessagesOutOfTheRingAndTheyStayThisMembersUnreadOnes) {
  NameGuard name(unique_name("ahead-stats"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  queue.open("me");
  append_numbered(queue, 0, 20);
  const std::uint64_t each = Queue::footprint(2, 1, 2);
  EXPECT_EQ(pop_body(queue, 8), "m0");
  const pysyncq::Stats stats = queue.stats();
  const pysyncq::MemberStats &me = member(stats, "me");
  EXPECT_EQ(me.backlog_messages, 8U);
  EXPECT_EQ(me.backlog_bytes, 8 * each);
  EXPECT_EQ(me.unread_messages, 19U) << "read ahead is not read";
  EXPECT_EQ(me.unread_bytes, 19 * each);
  EXPECT_EQ(stats.used_bytes, 11 * each) << "their space is free with the pop's";
  EXPECT_EQ(stats.queued_messages, 11U);
  queue.close();
}

TEST(ReadAhead, EveryReadServesWhatWasReadAheadFirstInOrder) {
  NameGuard name(unique_name("ahead-order"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  queue.open("me");
  append_numbered(queue, 0, 30);
  std::vector<std::string> got;
  got.push_back(pop_body(queue, 5)); // m0; m1..m5 read ahead
  got.push_back(pop_body(queue));    // a plain pop: m1
  EXPECT_TRUE(queue.wait_for_message(Deadline::now()));
  ASSERT_TRUE(queue.try_pop_visit([&](const MessageView &view) { got.emplace_back(view.body); }));
  (void)queue.pop_many_visit(6, [&](const MessageView &view) { got.emplace_back(view.body); });
  got.push_back(pop_body(queue, 64)); // m9 from the ring again, m10.. read ahead
  std::vector<Message> rest;
  (void)queue.pop_many(rest, 100);
  for (const Message &message : rest) {
    got.push_back(message.body);
  }
  std::vector<std::string> expected;
  expected.reserve(30);
  for (int i = 0; i < 30; ++i) {
    expected.push_back("m" + std::to_string(i));
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(pop_body(queue, 64), "(none)");
  EXPECT_EQ(member(queue.stats(), "me").backlog_messages, 0U);
  queue.close();
}

TEST(ReadAhead, AWaitForAMessageEndsAtOnceWhenOnlyTheBacklogHoldsOne) {
  NameGuard name(unique_name("ahead-wait"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  queue.open("me");
  append_numbered(queue, 0, 2);
  EXPECT_EQ(pop_body(queue, 64), "m0"); // the ring is empty now, m1 in the backlog
  EXPECT_EQ(queue.stats().queued_messages, 0U);
  EXPECT_TRUE(queue.wait_for_message(Deadline::after(30s)));
  EXPECT_EQ(pop_body(queue), "m1");
  EXPECT_FALSE(queue.wait_for_message(Deadline::now()));
  queue.close();
}

TEST(ReadAhead, ScreensApplyWhenAMessageIsPoppedNotWhenItWasReadAhead) {
  NameGuard name(unique_name("ahead-screens"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  queue.open("me");
  append_numbered(queue, 0, 12, {"a", "b"}); // even bodies 'a', odd 'b'
  queue.screened_types().insert("b");
  EXPECT_EQ(pop_body(queue, 64), "m0"); // m1..m11 read ahead, 'b's among them
  EXPECT_EQ(pop_body(queue, 64), "m2");
  queue.screened_types().clear(); // a screen removed: the 'b's read ahead show
  EXPECT_EQ(pop_body(queue, 64), "m3");
  EXPECT_EQ(pop_body(queue, 64), "m4");
  queue.screened_types().insert("a"); // a screen added: read-ahead 'a's are skipped
  EXPECT_EQ(pop_body(queue, 64), "m5");
  EXPECT_EQ(pop_body(queue, 64), "m7");
  queue.close();
}

TEST(ReadAhead, AReadAheadStopsAtItsCountAt4KiBAndBeforeARecordOver512Bytes) {
  NameGuard name(unique_name("ahead-bound"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1 << 20});
  queue.open("me");
  const auto backlog = [&] { return member(queue.stats(), "me").backlog_messages; };
  append_numbered(queue, 0, 10);
  EXPECT_EQ(pop_body(queue, 3), "m0");
  EXPECT_EQ(backlog(), 3U);
  while (pop_body(queue) != "(none)") {
  }
  const std::string body(400, 'x'); // a 424-byte record: nine fit in 4 KiB
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(queue.try_append("t", body));
  }
  Message message;
  ASSERT_TRUE(queue.pop_into(message, Deadline::now(), 64));
  EXPECT_EQ(backlog(), 9U);
  while (pop_body(queue) != "(none)") {
  }
  ASSERT_TRUE(queue.try_append("t", "m0"));
  ASSERT_TRUE(queue.try_append("t", "m1"));
  ASSERT_TRUE(queue.try_append("t", std::string(500, 'x'))); // a 520-byte record
  ASSERT_TRUE(queue.try_append("t", "m3"));
  EXPECT_EQ(pop_body(queue, 64), "m0");
  EXPECT_EQ(backlog(), 1U) << "m1 read ahead, not the large one nor what follows it";
  queue.close();
}

TEST(ReadAhead, CloseDropsWhatWasReadAhead) {
  NameGuard name(unique_name("ahead-close"));
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 4096});
  Queue keeper = Queue::attach(name.name()); // keeps the name while we reopen
  keeper.open("keeper");
  queue.open("me");
  append_numbered(queue, 0, 10);
  EXPECT_EQ(pop_body(queue, 64), "m0");
  queue.close();
  queue.open("me");
  EXPECT_EQ(pop_body(queue, 64), "(none)") << "a read-ahead outlived its registration";
  EXPECT_EQ(member(queue.stats(), "me").backlog_messages, 0U);
  queue.close();
  keeper.close();
}

// A lone member whose backlog starts with read-ahead messages, then blocks appending on
// its own unread messages: its moves go on from them, the bound counts them, the verdict
// comes when it came without them, and every message is read once, in order.
TEST(ReadAhead, ABlockedAppenderGoesOnFromTheReadAheadInOneOrderUpToTheSameDeadlock) {
  NameGuard name(unique_name("ahead-blocked"));
  const std::uint64_t each = Queue::footprint(2, 1, 4); // sender "me", type "t", "m000"
  constexpr std::uint64_t kFits = 16;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kFits * each});
  queue.open("me");
  const auto body = [](std::uint64_t k) { return "m" + std::to_string(100 + k); };
  std::uint64_t appended = 0;
  while (queue.try_append("t", body(appended))) {
    ++appended;
  }
  ASSERT_EQ(appended, kFits);
  Message first;
  ASSERT_TRUE(queue.pop_into(first, Deadline::now(), 64)); // the rest of the ring read ahead
  EXPECT_EQ(first.body, body(0));
  EXPECT_EQ(member(queue.stats(), "me").backlog_messages, kFits - 1);
  try {
    for (;;) {
      queue.append("t", body(appended), Deadline::after(30s));
      ++appended;
      ASSERT_LE(appended, 2 * kFits + 1) << "the backlog outgrew the capacity";
    }
  } catch (const Deadlock &error) {
    EXPECT_NE(std::string(error.what()).find("backlog full"), std::string::npos) << error.what();
  }
  // As without the read-ahead: a full ring, a full backlog (one message was popped).
  EXPECT_EQ(appended, 2 * kFits + 1);
  const pysyncq::MemberStats me = member(queue.stats(), "me");
  EXPECT_EQ(me.backlog_messages, kFits);
  EXPECT_EQ(me.backlog_bytes, kFits * each);
  EXPECT_EQ(me.unread_messages, 2 * kFits);
  for (std::uint64_t k = 1; k < appended; ++k) {
    Message message;
    ASSERT_TRUE(queue.pop_into(message, Deadline::now(), k % 3 == 0 ? 64 : 0)) << k;
    ASSERT_EQ(message.body, body(k)) << "in order, once each";
  }
  EXPECT_EQ(pop_body(queue, 64), "(none)") << "nothing twice";
  queue.close();
}

// The read-ahead messages that a blocked appender's move finds screened are dropped then
// (counted read), as the move would have skipped them in the ring: they never take the
// backlog's room. The others stay, before the messages the move adds.
TEST(ReadAhead, ABlockedAppendersMoveDropsReadAheadMessagesScreenedByThen) {
  NameGuard name(unique_name("ahead-move-screens"));
  const std::uint64_t each = Queue::footprint(2, 1, 3);
  constexpr std::uint64_t kFits = 16;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = kFits * each});
  queue.open("me");
  std::uint64_t appended = 0;
  const auto type = [](std::uint64_t k) { return k % 2 == 0 ? "a" : "s"; };
  const auto body = [](std::uint64_t k) { return "m" + std::to_string(10 + k); };
  while (queue.try_append(type(appended), body(appended))) {
    ++appended;
  }
  ASSERT_EQ(appended, kFits);
  EXPECT_EQ(pop_body(queue, 7), body(0)); // 1..7 read ahead: four 's', three 'a'
  queue.screened_types().insert("s");
  while (queue.try_append(type(appended), body(appended))) { // the ring is full again
    ++appended;
  }
  queue.append(type(appended), body(appended), Deadline::after(30s)); // moves, then fits
  ++appended;
  const pysyncq::MemberStats me = member(queue.stats(), "me");
  // Of 1..appended-1 ('a' when even) the backlog holds the 'a's before the last append's
  // own message, which stays in the ring.
  std::uint64_t a_moved = 0;
  for (std::uint64_t k = 1; k + 1 < appended; ++k) {
    a_moved += k % 2 == 0 ? 1 : 0;
  }
  EXPECT_EQ(me.backlog_messages, a_moved) << "the screened read-ahead was dropped";
  for (std::uint64_t k = 2; k < appended; k += 2) {
    EXPECT_EQ(pop_body(queue, 64), body(k));
  }
  EXPECT_EQ(pop_body(queue, 64), "(none)");
  queue.close();
}

} // namespace
