// The member table is bounded by the process's own copy of the geometry, never by the
// header, which any writer to the segment may rewrite after attach (issue 15, finding 4:
// raising max_members and slots_in_use in a queue of 4 slots made members read and write
// past the table). Process-local memory; the slots array is exactly the copy's size, so
// AddressSanitizer also catches any access past it.
#include "core/membership.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace pysyncq::core {
namespace {

constexpr std::uint32_t kSlots = 4;
constexpr std::uint64_t kCapacity = 512;

struct Table {
  Table() : storage(std::make_unique<MemberSlot[]>(kSlots)) {
    header.capacity_bytes = kCapacity;
    header.max_members = kSlots;
    members = MemberTable(&header, storage.get(), kSlots, kCapacity);
  }
  // What a hostile writer does after attach: a larger table and capacity in the header.
  void inflate_header() {
    header.max_members = 1U << 16;
    header.capacity_bytes = 1ULL << 40;
    header.slots_in_use.store(1U << 16);
  }
  SegmentHeader header{};
  std::unique_ptr<MemberSlot[]> storage;
  MemberTable members;
};

const IsAlive kEveryoneAlive = [](int, std::uint64_t) { return true; };

TEST(GeometryCopy, ScansStayWithinTheCopiedMemberLimitWhenTheHeaderGrowsIt) {
  Table t;
  t.inflate_header();
  EXPECT_EQ(t.members.max_members(), kSlots);
  EXPECT_EQ(t.members.scan_end(), kSlots);
  // join fills the copied number of slots, then reports the table full.
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    ASSERT_TRUE(t.members.join(100 + static_cast<int>(i), 1, "m", 0).has_value());
  }
  EXPECT_FALSE(t.members.join(999, 1, "late", 0).has_value());
  EXPECT_EQ(t.members.members_at(0).size(), kSlots);
  EXPECT_EQ(t.members.reap_dead(kEveryoneAlive), 0U);
  t.members.repair_after_crash();
  EXPECT_EQ(t.header.member_count.load(), kSlots);
  EXPECT_FALSE(t.members.has_dead_ticket_holder(kEveryoneAlive));
}

TEST(GeometryCopy, TheSlowestCursorUsesTheCopiedCapacitySoARaisedOneFreesNothing) {
  Table t;
  const std::uint32_t index = *t.members.join(1, 1, "slow", 0);
  (void)index;
  t.inflate_header();
  // A cursor a whole (copied) capacity behind the tail holds back everything; with the
  // header's raised capacity it would still count, and with a cursor further behind than
  // the copy it is corrupt and ignored, never a source of negative free space.
  EXPECT_EQ(t.members.slowest_cursor(kCapacity), 0U);
  EXPECT_EQ(t.members.slowest_cursor(kCapacity + 8), kCapacity + 8); // corrupt: ignored
}

TEST(GeometryCopy, ReservationsAreCappedByTheCopiedCapacity) {
  Table t;
  const std::uint32_t index = *t.members.join(1, 1, "waiter", 0);
  ASSERT_NE(t.members.take_ticket(index, 1ULL << 50), 0U);
  t.inflate_header();
  EXPECT_EQ(t.members.reserved_before(0), kCapacity);
}

} // namespace
} // namespace pysyncq::core
