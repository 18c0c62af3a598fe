// The rules about who holds back space (core/holders.hpp) and the space tickets
// (core/membership.hpp), on a member table in process-local memory with liveness
// injected: no kernel, no second process.
#include "core/holders.hpp"
#include "core/membership.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>

namespace pysyncq::core {
namespace {

constexpr std::uint64_t kCapacity = 1024;

struct Table {
  Table() : storage(std::make_unique<MemberSlot[]>(kMembers)) {
    header.capacity_bytes = kCapacity;
    header.max_members = kMembers;
    members = MemberTable(&header, storage.get(), kMembers, kCapacity);
  }
  std::uint32_t join(int pid, std::uint64_t cursor) {
    return *members.join(pid, 1, "m" + std::to_string(pid), cursor);
  }
  void sleep_for_space(std::uint32_t index) {
    members.slot(index).waiting.fetch_add(kSpaceSleeperUnit);
  }
  void backlog_full(std::uint32_t index) { members.slot(index).backlog_full.store(1); }

  static constexpr std::uint32_t kMembers = 8;
  SegmentHeader header{};
  std::unique_ptr<MemberSlot[]> storage;
  MemberTable members;
};

const IsAlive kEveryoneAlive = [](int, std::uint64_t) { return true; };

TEST(Holders, NothingUnreadMeansNoHoldersAndNoVerdict) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  const HolderVerdict verdict = judge_holders(t.members, 100, 100, me, kEveryoneAlive);
  EXPECT_TRUE(verdict.holders.empty());
  EXPECT_FALSE(verdict.deadlock || verdict.wake_holders || verdict.me_can_move);
}

TEST(Holders, ACallerHoldingTheSpaceWithRoomInItsBacklogMustMoveNotSleep) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  const HolderVerdict verdict = judge_holders(t.members, 100, 300, me, kEveryoneAlive);
  EXPECT_EQ(verdict.holders, std::vector<std::uint32_t>{me});
  EXPECT_TRUE(verdict.me_can_move);
  EXPECT_FALSE(verdict.deadlock);
}

TEST(Holders, ACallerAloneWithAFullBacklogIsADeadlock) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  t.backlog_full(me);
  const HolderVerdict verdict = judge_holders(t.members, 100, 300, me, kEveryoneAlive);
  EXPECT_FALSE(verdict.me_can_move);
  EXPECT_TRUE(verdict.deadlock);
}

TEST(Holders, ASleepingAppenderWithRoomInItsBacklogIsWokenNotJudged) {
  Table t;
  const std::uint32_t me = t.join(1, 300);
  const std::uint32_t other = t.join(2, 100);
  t.sleep_for_space(other);
  const HolderVerdict verdict = judge_holders(t.members, 100, 300, me, kEveryoneAlive);
  EXPECT_EQ(verdict.holders, std::vector<std::uint32_t>{other});
  EXPECT_TRUE(verdict.wake_holders);
  EXPECT_FALSE(verdict.deadlock);
}

TEST(Holders, EveryHolderBlockedWithAFullBacklogIsADeadlock) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  const std::uint32_t other = t.join(2, 100);
  t.backlog_full(me);
  t.backlog_full(other);
  t.sleep_for_space(other);
  const HolderVerdict verdict = judge_holders(t.members, 100, 300, me, kEveryoneAlive);
  EXPECT_TRUE(verdict.deadlock);
  EXPECT_FALSE(verdict.wake_holders);
}

TEST(Holders, AHolderThatIsNotAppendingIsNoDeadlockItMayStillRead) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  t.join(2, 100); // awake: it may read at any time
  t.backlog_full(me);
  EXPECT_FALSE(judge_holders(t.members, 100, 300, me, kEveryoneAlive).deadlock);
}

TEST(Holders, ADeadSleeperIsNotBlockedItWillBeReaped) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  const std::uint32_t dead = t.join(2, 100);
  t.backlog_full(me);
  t.backlog_full(dead);
  t.sleep_for_space(dead);
  const IsAlive only_me = [](int pid, std::uint64_t) { return pid == 1; };
  EXPECT_FALSE(judge_holders(t.members, 100, 300, me, only_me).deadlock);
}

TEST(Holders, ARegistrationSharedByThreadsIsNeverBlocked) {
  Table t;
  const std::uint32_t me = t.join(1, 100);
  t.backlog_full(me);
  t.members.slot(me).flags.fetch_or(kSlotSharedByThreads);
  EXPECT_FALSE(judge_holders(t.members, 100, 300, me, kEveryoneAlive).deadlock);
}

TEST(Tickets, EarlierTicketsReserveTheirBytesLaterOnesDoNot) {
  Table t;
  const std::uint32_t a = t.join(1, 0);
  const std::uint32_t b = t.join(2, 0);
  const std::uint32_t c = t.join(3, 0);
  EXPECT_EQ(t.members.reserved_before(0), 0U) << "no ticket: nothing reserved, no scan";
  const std::uint64_t ta = t.members.take_ticket(a, 600);
  const std::uint64_t tb = t.members.take_ticket(b, 100);
  ASSERT_LT(ta, tb);
  EXPECT_EQ(t.members.take_ticket(a, 50), 0U) << "one ticket per registration";
  EXPECT_EQ(t.members.reserved_before(ta), 0U) << "the first in line yields to nobody";
  EXPECT_EQ(t.members.reserved_before(tb), 600U);
  EXPECT_EQ(t.members.reserved_before(0), 700U) << "an append without a ticket yields to all";
  t.members.return_ticket(a, ta);
  EXPECT_EQ(t.members.reserved_before(tb), 0U);
  EXPECT_EQ(t.members.reserved_before(0), 100U);
  t.members.leave(b); // a closing or reaped member gives its ticket back
  EXPECT_EQ(t.header.ticketed_appenders.load(), 0U);
  EXPECT_EQ(t.members.reserved_before(0), 0U);
  (void)c;
}

TEST(Tickets, ACorruptNeedCountsAsTheCapacityAtMost) {
  Table t;
  const std::uint32_t a = t.join(1, 0);
  t.members.take_ticket(a, ~std::uint64_t{0});
  EXPECT_EQ(t.members.reserved_before(0), kCapacity);
}

TEST(Tickets, RecoveryRecountsTicketHoldersFromTheSlots) {
  Table t;
  const std::uint32_t a = t.join(1, 0);
  t.members.take_ticket(a, 10);
  t.header.ticketed_appenders.store(5); // as a holder killed between two steps could leave it
  t.members.repair_after_crash();
  EXPECT_EQ(t.header.ticketed_appenders.load(), 1U);
}

TEST(Tickets, ADeadTicketHolderIsFound) {
  Table t;
  const std::uint32_t a = t.join(1, 0);
  t.join(2, 0);
  t.members.take_ticket(a, 10);
  EXPECT_FALSE(t.members.has_dead_ticket_holder(kEveryoneAlive));
  EXPECT_TRUE(t.members.has_dead_ticket_holder([](int pid, std::uint64_t) { return pid != 1; }));
}

TEST(Space, FreeBytesIsTheCapacityLessWhatTheSlowestCursorHasNotRead) {
  EXPECT_EQ(free_bytes(kCapacity, 300, 100), kCapacity - 200);
  EXPECT_EQ(free_bytes(kCapacity, 100, 100), kCapacity);
  EXPECT_EQ(free_bytes(kCapacity, 100 + kCapacity, 100), 0U);
  EXPECT_EQ(free_bytes(kCapacity, 100 + 2 * kCapacity, 100), 0U) << "corrupt: never wraps";
}

TEST(Space, AnAppendFitsOnlyInTheSpaceEarlierTicketsDoNotNeed) {
  Table t;
  const std::uint32_t a = t.join(1, 0);
  const std::uint32_t b = t.join(2, 0);
  // 1024 bytes free; a waits first for 600.
  const std::uint64_t ta = t.members.take_ticket(a, 600);
  const std::uint64_t tb = t.members.take_ticket(b, 400);
  EXPECT_TRUE(has_room(t.members, kCapacity, 0, 0, 600, ta)) << "first in line takes all";
  EXPECT_TRUE(has_room(t.members, kCapacity, 0, 0, 424, tb));
  EXPECT_FALSE(has_room(t.members, kCapacity, 0, 0, 425, tb));
  EXPECT_TRUE(has_room(t.members, kCapacity, 0, 0, 24, 0)) << "no ticket yields to both";
  EXPECT_FALSE(has_room(t.members, kCapacity, 0, 0, 25, 0));
}

TEST(Space, OnlyTheSlowestMemberWithUnreadMessagesHoldsBackSpace) {
  EXPECT_TRUE(holds_back_space(100, 300, 100));
  EXPECT_FALSE(holds_back_space(300, 300, 300)) << "nothing unread";
  EXPECT_FALSE(holds_back_space(200, 300, 100)) << "someone slower holds it";
}

TEST(Space, ABlockedAppendReapsTheDeadAtTheSlowestCursorOnly) {
  Table t;
  const std::uint32_t dead_at_head = t.join(2, 100);
  const std::uint32_t dead_ahead = t.join(3, 200);
  t.join(1, 100);
  const IsAlive only_1 = [](int pid, std::uint64_t) { return pid == 1; };
  EXPECT_EQ(reap_space_holders(t.members, 100, only_1), 1U);
  EXPECT_NE(t.members.slot(dead_at_head).state.load(), kSlotActive);
  EXPECT_EQ(t.members.slot(dead_ahead).state.load(), kSlotActive) << "holds back nothing";
}

TEST(Space, ADeadTicketHolderMakesABlockedAppendReapEveryDeadMember) {
  Table t;
  const std::uint32_t dead_at_head = t.join(2, 100);
  const std::uint32_t dead_ahead = t.join(3, 200);
  t.join(1, 100);
  t.members.take_ticket(dead_ahead, 10); // its reservation holds back space anywhere
  const IsAlive only_1 = [](int pid, std::uint64_t) { return pid == 1; };
  EXPECT_EQ(reap_space_holders(t.members, 100, only_1), 2U);
  EXPECT_NE(t.members.slot(dead_at_head).state.load(), kSlotActive);
  EXPECT_NE(t.members.slot(dead_ahead).state.load(), kSlotActive);
  EXPECT_EQ(t.members.reserved_before(0), 0U) << "its ticket went with it";
}

TEST(Space, ReapingIsDueAtMostOncePerInterval) {
  std::atomic<std::uint64_t> last{0};
  constexpr std::uint64_t kInterval = 100;
  EXPECT_TRUE(reap_due(last, 1000, kInterval));
  EXPECT_EQ(last.load(), 1000U);
  EXPECT_FALSE(reap_due(last, 1099, kInterval));
  EXPECT_EQ(last.load(), 1000U) << "a no leaves the last check alone";
  EXPECT_TRUE(reap_due(last, 1100, kInterval));
}

} // namespace
} // namespace pysyncq::core
