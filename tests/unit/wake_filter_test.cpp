// Whom an append wakes (core/wake_filter.hpp): the screens a member publishes in its
// slot, and the bits an appender wakes from them, on a member table in process-local
// memory. Every case where a slot cannot tell must wake the member.
#include "core/membership.hpp"
#include "core/wake_filter.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace pysyncq::core {
namespace {

using Names = std::set<std::string>;

struct Table {
  explicit Table(std::uint32_t slots = 8)
      : count(slots), storage(std::make_unique<MemberSlot[]>(slots)) {
    header.capacity_bytes = 1024;
    header.max_members = slots;
    members = MemberTable(&header, storage.get(), slots, 1024);
  }
  std::uint32_t join(int pid) { return *members.join(pid, 1, "m" + std::to_string(pid), 0); }
  MemberSlot &slot(std::uint32_t index) { return members.slot(index); }
  void screen(std::uint32_t index, const Names &senders, const Names &types) {
    ASSERT_TRUE(publish_screens(slot(index), digest_screens(senders, types)));
  }

  std::uint32_t count;
  SegmentHeader header{};
  std::unique_ptr<MemberSlot[]> storage;
  MemberTable members;
};

// One append: its sender and its messages' types, hashed as an appender hashes them.
struct Append {
  Append(const std::string &sender, const std::vector<std::string> &types) {
    for (const std::string &type : types) {
      type_hashes.push_back(screen_hash(ScreenKind::kType, type));
    }
    hashes = AppendedHashes{screen_hash(ScreenKind::kSender, sender), type_hashes};
  }
  std::vector<std::uint64_t> type_hashes;
  AppendedHashes hashes;
};

TEST(WakeFilter, HashesTellKindsAndNamesApartAndAgreeAcrossCalls) {
  EXPECT_EQ(screen_hash(ScreenKind::kType, "echo"), screen_hash(ScreenKind::kType, "echo"));
  EXPECT_NE(screen_hash(ScreenKind::kType, "echo"), screen_hash(ScreenKind::kSender, "echo"));
  EXPECT_NE(screen_hash(ScreenKind::kType, "echo"), screen_hash(ScreenKind::kType, "echo2"));
  EXPECT_NE(screen_hash(ScreenKind::kType, ""),
            screen_hash(ScreenKind::kType, std::string(1, '\0')));
}

TEST(WakeFilter, AFreshSlotScreensOutNothing) {
  Table t;
  const std::uint32_t a = t.join(1);
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("x", {"t"}).hashes));
}

TEST(WakeFilter, AScreenedSenderScreensOutEveryMessageItAppends) {
  Table t;
  const std::uint32_t a = t.join(1);
  t.screen(a, {"parent"}, {});
  EXPECT_TRUE(screens_out_all(t.slot(a), Append("parent", {"t", "u"}).hashes));
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("child", {"t"}).hashes));
  // A type of the sender's name is another screen.
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("child", {"parent"}).hashes));
}

TEST(WakeFilter, TypeScreensSpareABatchOnlyWhenEveryMessageIsScreened) {
  Table t;
  const std::uint32_t a = t.join(1);
  t.screen(a, {}, {"echo", "noise"});
  EXPECT_TRUE(screens_out_all(t.slot(a), Append("c", {"echo"}).hashes));
  EXPECT_TRUE(screens_out_all(t.slot(a), Append("c", {"echo", "noise", "echo"}).hashes));
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("c", {"echo", "origin"}).hashes));
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("c", {}).hashes));
}

TEST(WakeFilter, MoreScreensThanASlotHoldsWakeForEverything) {
  Table t;
  const std::uint32_t a = t.join(1);
  Names senders;
  for (std::uint32_t i = 0; i <= kScreenHashSlots; ++i) {
    senders.insert("s" + std::to_string(i));
  }
  const ScreenDigest digest = digest_screens(senders, Names{});
  EXPECT_EQ(digest.count, kScreensUnknown);
  ASSERT_TRUE(publish_screens(t.slot(a), digest));
  EXPECT_FALSE(screens_out_all(t.slot(a), Append("s0", {"t"}).hashes));
  senders.erase("s0"); // exactly as many as fit: spared again
  t.screen(a, senders, {});
  EXPECT_TRUE(screens_out_all(t.slot(a), Append("s1", {"t"}).hashes));
}

TEST(WakeFilter, ASlotInTheMiddleOfAPublishOrWithGarbageWakesItsMember) {
  Table t;
  const std::uint32_t a = t.join(1);
  t.screen(a, {}, {"noise"});
  const Append noise("c", {"noise"});
  ASSERT_TRUE(screens_out_all(t.slot(a), noise.hashes));
  // A writer died (or a hostile one stopped) mid-publish: the sequence stays odd.
  t.slot(a).screen_sequence.fetch_add(1);
  EXPECT_FALSE(screens_out_all(t.slot(a), noise.hashes));
  EXPECT_FALSE(publish_screens(t.slot(a), digest_screens(Names{}, Names{"noise"})));
  t.slot(a).screen_sequence.fetch_add(1);
  ASSERT_TRUE(screens_out_all(t.slot(a), noise.hashes));
  // A count no owner writes.
  t.slot(a).screen_count.store(kScreenHashSlots + 1);
  EXPECT_FALSE(screens_out_all(t.slot(a), noise.hashes));
}

TEST(WakeFilter, PublishingTheSameScreensAgainWritesNothing) {
  Table t;
  const std::uint32_t a = t.join(1);
  EXPECT_EQ(t.slot(a).screen_sequence.load() % 2, 0U);
  const std::uint32_t fresh = t.slot(a).screen_sequence.load();
  t.screen(a, {}, {}); // a fresh slot already says "nothing screened"
  EXPECT_EQ(t.slot(a).screen_sequence.load(), fresh);
  t.screen(a, {"p"}, {"t"});
  const std::uint32_t after_change = t.slot(a).screen_sequence.load();
  EXPECT_EQ(after_change, fresh + 2);
  t.screen(a, {"p"}, {"t"});
  EXPECT_EQ(t.slot(a).screen_sequence.load(), after_change);
}

TEST(WakeFilter, AJoinForgetsTheScreensOfTheSlotsLastOwner) {
  Table t;
  const std::uint32_t a = t.join(1);
  t.screen(a, {}, {"noise"});
  t.slot(a).screen_sequence.fetch_add(1); // and even left the sequence odd
  t.members.leave(a);
  const std::uint32_t b = t.join(2);
  ASSERT_EQ(a, b);
  EXPECT_EQ(t.slot(b).screen_sequence.load() % 2, 0U);
  EXPECT_FALSE(screens_out_all(t.slot(b), Append("c", {"noise"}).hashes));
}

TEST(WakeFilter, OnlyAnnouncedMembersThatWantTheAppendAreWoken) {
  Table t;
  const std::uint32_t hub = t.join(1);
  const std::uint32_t child1 = t.join(2);
  const std::uint32_t child2 = t.join(3);
  t.screen(hub, {"hub", "child-2"}, {});
  t.screen(child1, {"child-1"}, {"echo"});
  t.screen(child2, {"child-2"}, {"echo"});
  const std::uint32_t everyone = wake_bit_of(hub) | wake_bit_of(child1) | wake_bit_of(child2);
  // child-2's echo: the hub screens child-2 and child-1 screens echoes: nobody.
  EXPECT_EQ(bits_to_wake(t.members, everyone, Append("child-2", {"echo"}).hashes), 0U);
  // child-1's echo: only the hub.
  EXPECT_EQ(bits_to_wake(t.members, everyone, Append("child-1", {"echo"}).hashes),
            wake_bit_of(hub));
  // The hub's origin: both children; only announced bits are ever returned.
  EXPECT_EQ(bits_to_wake(t.members, everyone, Append("hub", {"origin"}).hashes),
            wake_bit_of(child1) | wake_bit_of(child2));
  EXPECT_EQ(bits_to_wake(t.members, wake_bit_of(child2), Append("hub", {"origin"}).hashes),
            wake_bit_of(child2));
}

TEST(WakeFilter, ABitIsSparedOnlyWhenEverySlotOnItIsActiveAndScreensTheAppendOut) {
  Table t(40);
  std::vector<std::uint32_t> slots;
  for (int pid = 1; pid <= 34; ++pid) {
    slots.push_back(t.join(pid));
  }
  // Slots 1 and 33 share a bit: 1 screens noise, 33 does not.
  t.screen(1, {}, {"noise"});
  const Append noise("c", {"noise"});
  EXPECT_EQ(bits_to_wake(t.members, wake_bit_of(1), noise.hashes), wake_bit_of(1));
  t.screen(33, {}, {"noise"});
  EXPECT_EQ(bits_to_wake(t.members, wake_bit_of(1), noise.hashes), 0U);
  // A slot on the bit that is no longer active: woken, so the stale bit gets cleared.
  t.members.leave(33);
  EXPECT_EQ(bits_to_wake(t.members, wake_bit_of(1), noise.hashes), wake_bit_of(1));
  // A bit that no slot below the scan bound maps to (35..39 were never used; with 34
  // slots in use every bit has a slot, so use a small table).
  Table small(4);
  small.join(1);
  EXPECT_EQ(bits_to_wake(small.members, wake_bit_of(7), noise.hashes), wake_bit_of(7));
}

} // namespace
} // namespace pysyncq::core
