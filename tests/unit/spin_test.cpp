// The adaptive-wait rules (src/core/spin.hpp) without a clock or a second process: times
// are given, leases are plain words.
#include "core/spin.hpp"

#include <gtest/gtest.h>

#include <array>

namespace pysyncq::core {
namespace {

constexpr std::uint64_t kMicro = 1'000;

TEST(SpinLeases, AtMostCountSpinnersAndAnEndedLeaseIsFreeWithoutRepair) {
  std::array<std::atomic<std::uint64_t>, 8> words{};
  SpinLeases leases(words.data(), 2);
  const int first = leases.try_take(100, 150);
  const int second = leases.try_take(100, 160);
  EXPECT_GE(first, 0);
  EXPECT_GE(second, 0);
  EXPECT_NE(first, second);
  EXPECT_EQ(leases.try_take(120, 170), -1) << "a third spinner on a queue with two leases";
  EXPECT_EQ(words[2].load(), 0U) << "words past `count` are never used";
  // A holder that died keeps its word until its time passes; then anyone takes it.
  const int after_death = leases.try_take(151, 200);
  EXPECT_EQ(after_death, first);
  // The dead one's give_back (had it lived) must not free the new holder's lease.
  leases.give_back(first, 150);
  EXPECT_EQ(words[static_cast<std::size_t>(first)].load(), 200U);
  leases.give_back(first, 200);
  EXPECT_EQ(words[static_cast<std::size_t>(first)].load(), 0U);
  leases.give_back(-1, 0); // no lease: nothing to give back
}

TEST(SpinLeases, OneLeasePerCpuBeyondTheFirst) {
  EXPECT_EQ(spin_lease_count(0, 8), 0U);
  EXPECT_EQ(spin_lease_count(1, 8), 0U);
  EXPECT_EQ(spin_lease_count(2, 8), 1U);
  EXPECT_EQ(spin_lease_count(4, 8), 3U);
  EXPECT_EQ(spin_lease_count(64, 8), 8U);
}

TEST(SpinRules, ASpinnerNeedsACpuThatNoAwakeMemberUses) {
  EXPECT_TRUE(cpu_is_spare(2, 0, 2)) << "ping-pong: the partner runs on the other CPU";
  EXPECT_FALSE(cpu_is_spare(8, 0, 2)) << "echo of 8: seven others awake on 2 CPUs";
  EXPECT_TRUE(cpu_is_spare(8, 6, 2)) << "six others asleep: one awake beside us";
  EXPECT_FALSE(cpu_is_spare(4, 1, 2));
  EXPECT_TRUE(cpu_is_spare(1, 0, 1)) << "alone: nobody to take the CPU from";
  EXPECT_TRUE(cpu_is_spare(3, 7, 2)) << "counts read mid-change must not wrap";
}

TEST(SpinBudget, WaitsThatEndSpinningKeepItNearAFewTimesTheirLength) {
  SpinBudget budget(50 * kMicro);
  for (int i = 0; i < 20; ++i) {
    budget.ended_spinning(kMicro); // a ping-pong partner answering in 1 us
  }
  EXPECT_EQ(budget.next(), SpinBudget::kHeadroom * kMicro);
  for (int i = 0; i < 20; ++i) {
    budget.ended_spinning(100 * kMicro); // longer than the cap: the cap holds
  }
  EXPECT_EQ(budget.next(), 50 * kMicro);
}

TEST(SpinBudget, LongWaitsThatSleepHalveItToZeroThenProbesLetItGrowBack) {
  SpinBudget budget(50 * kMicro);
  budget.ended_spinning(10 * kMicro);
  ASSERT_EQ(budget.next(), 40 * kMicro);
  int halvings = 0;
  while (budget.budget_ns() != 0) {
    budget.ended_sleeping(5'000 * kMicro); // 8 processes on 2 cores: waits of ms
    ++halvings;
    ASSERT_LT(halvings, 10);
  }
  EXPECT_EQ(halvings, 5); // 40 -> 20 -> 10 -> 5 -> 2.5 -> 1.25 (below the minimum: 0)
  int probes = 0;
  for (std::uint32_t i = 0; i < 4 * SpinBudget::kProbeEvery; ++i) {
    const std::uint64_t spin = budget.next();
    if (spin != 0) {
      EXPECT_EQ(spin, SpinBudget::kMinSpinNs);
      ++probes;
    }
  }
  EXPECT_EQ(probes, 4) << "one probe per kProbeEvery waits";
  // A wait that slept but whose event came soon (the partner answered within the cap):
  // a spin would have caught it, so it counts as one.
  budget.ended_sleeping(3 * kMicro);
  // The moving average of the 10 us learned first and this 3 us, with headroom.
  EXPECT_EQ(budget.next(), SpinBudget::kHeadroom * (10 * kMicro - 10 * kMicro / 4 + 3 * kMicro / 4));
}

TEST(SpinBudget, ACapOfZeroNeverSpins) {
  SpinBudget budget(0);
  budget.ended_sleeping(1);
  budget.ended_spinning(1);
  for (std::uint32_t i = 0; i < 2 * SpinBudget::kProbeEvery; ++i) {
    EXPECT_EQ(budget.next(), 0U);
  }
}

} // namespace
} // namespace pysyncq::core
