// A blocked call's spin (src/shm/spin_wait.hpp) over a header in process memory: how it
// treats the queue's spin leases. No second process and no clock assertion: `ready()`
// itself plays the partner, deciding when the event comes and when a lease frees.
#include "core/layout.hpp"
#include "shm/spin_wait.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace pysyncq::shm {
namespace {

// A header with one member (so a CPU is spare) and every lease free.
std::unique_ptr<core::SegmentHeader> quiet_header() {
  auto header = std::make_unique<core::SegmentHeader>();
  header->member_count.store(1);
  for (auto &lease : header->spin_leases) {
    lease.store(0);
  }
  return header;
}

const Deadline kFarAway = Deadline::after(std::chrono::seconds(60));

// The ping-pong case: the partner still holds the only lease when we start waiting, and
// gives it back a moment later, when it sees our message. Sleeping at once would cost a
// futex wake-up per round trip; the waiter takes the lease and goes on spinning.
TEST(SpinWait, AWaiterWhoseLeaseIsHeldTakesItWhenItsHolderGivesItBack) {
  if (std::thread::hardware_concurrency() < 2) {
    GTEST_SKIP() << "one CPU: no spin leases at all";
  }
  auto header = quiet_header();
  const std::uint64_t partner_until = platform::monotonic_ns() + 60'000'000'000ULL;
  for (auto &lease : header->spin_leases) {
    lease.store(partner_until); // the partner holds every lease
  }
  SpinWait spin_wait(*header);
  int looks = 0;
  const auto ready = [&] {
    ++looks;
    if (looks == 3) {
      for (auto &lease : header->spin_leases) {
        lease.store(0); // the partner saw our message and gave its lease back
      }
    }
    return looks == 10;
  };
  {
    SpinWait::Round round(spin_wait);
    EXPECT_TRUE(round.spin(ready, WaitPolicy{}, kFarAway));
  }
  EXPECT_EQ(looks, 10) << "it went on looking after it took the freed lease";
  for (auto &lease : header->spin_leases) {
    EXPECT_EQ(lease.load(), 0U) << "the lease it took is given back when its spin ends";
  }
}

// The event itself may come while the waiter watches for a lease: then it has it.
TEST(SpinWait, AnEventThatComesWhileEveryLeaseIsHeldIsCaughtWithoutALease) {
  if (std::thread::hardware_concurrency() < 2) {
    GTEST_SKIP() << "one CPU: no spin leases at all";
  }
  auto header = quiet_header();
  const std::uint64_t partner_until = platform::monotonic_ns() + 60'000'000'000ULL;
  for (auto &lease : header->spin_leases) {
    lease.store(partner_until);
  }
  SpinWait spin_wait(*header);
  int looks = 0;
  const auto ready = [&] { return ++looks == 2; };
  SpinWait::Round round(spin_wait);
  EXPECT_TRUE(round.spin(ready, WaitPolicy{}, kFarAway));
  for (auto &lease : header->spin_leases) {
    EXPECT_EQ(lease.load(), partner_until) << "the partner's leases are left alone";
  }
}

// Leases that stay held: the waiter gives up after its short watch (it would sleep next)
// and never takes a lease it was not given.
TEST(SpinWait, AWaiterWhoseLeasesStayHeldGivesUpWithoutTakingOne) {
  if (std::thread::hardware_concurrency() < 2) {
    GTEST_SKIP() << "one CPU: no spin leases at all";
  }
  auto header = quiet_header();
  const std::uint64_t partner_until = platform::monotonic_ns() + 60'000'000'000ULL;
  for (auto &lease : header->spin_leases) {
    lease.store(partner_until);
  }
  SpinWait spin_wait(*header);
  SpinWait::Round round(spin_wait);
  EXPECT_FALSE(round.spin([] { return false; }, WaitPolicy{}, kFarAway));
  for (auto &lease : header->spin_leases) {
    EXPECT_EQ(lease.load(), partner_until);
  }
}

} // namespace
} // namespace pysyncq::shm
