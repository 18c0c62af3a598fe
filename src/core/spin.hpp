// Adaptive waiting: whether a blocked call may spin, and for how long, before it sleeps.
//
// Spinning pays only when the thread we wait for is running on another CPU, and only for
// about as long as it takes to act. So two rules, both pure (time is passed in), so that
// unit tests drive them without a clock or a second process (docs/design.md, "Adaptive
// waits"):
//
// * Spin leases (SpinLeases, over SegmentHeader::spin_leases). A waiter spins only while
//   it holds a lease, and a queue hands out at most one lease per CPU beyond the first:
//   the spinners never take every CPU, so the writer or reader they wait for can run.
//   With more waiters than CPUs (8 processes on 2 cores) the others sleep at once, as if
//   spinning were off. A lease is the time it ends: a spinner that dies holding one
//   loses it by itself once that time passes, without any repair.
// * A spare CPU (cpu_is_spare). The members that are not asleep are running or about to:
//   when they already fill every CPU, a spinner would only take the CPU of the member it
//   waits for, so it sleeps at once (8 processes on 2 cores: the others answer an echo
//   while one waits).
// * A spin budget (SpinBudget, per handle, process-local). How long the last waits took
//   decides how long the next may spin: a wait whose event came within the cap keeps the
//   budget near a few times its length; one whose event came later halves it. Capped by
//   WaitPolicy::spin.
#pragma once

#include <atomic>
#include <cstdint>

namespace pysyncq::core {

/// The leases of one queue: `count` words of SegmentHeader::spin_leases, each the
/// CLOCK_MONOTONIC time (ns) at which its holder stops spinning; 0 or a past time is free.
class SpinLeases {
public:
  SpinLeases(std::atomic<std::uint64_t> *words, std::uint32_t count) noexcept
      : words_(words), count_(count) {}

  /// Takes a free lease until `until_ns`; returns its index, or -1 when every lease is
  /// held (then the caller sleeps at once).
  int try_take(std::uint64_t now_ns, std::uint64_t until_ns) noexcept;
  /// Gives back lease `index` taken until `until_ns`: only if it is still ours (past its
  /// end another waiter may have taken it, and that one keeps it).
  void give_back(int index, std::uint64_t until_ns) noexcept;

private:
  std::atomic<std::uint64_t> *words_;
  std::uint32_t count_;
};

/// How many leases a queue hands out on a machine with `cpus` online CPUs: one per CPU
/// beyond the first, at most `slots` (the words the header has). 0 on one CPU: a spinner
/// there would only keep the thread it waits for off the CPU.
std::uint32_t spin_lease_count(unsigned cpus, std::uint32_t slots) noexcept;

/// Whether a waiter has a CPU to itself: fewer of the queue's other `members` are awake
/// (not among the `sleepers`, which count threads in the kernel) than there are `cpus`.
bool cpu_is_spare(std::uint32_t members, std::uint32_t sleepers, unsigned cpus) noexcept;

/// The learned spin length of one handle, in process memory. Not thread-safe: a handle's
/// waiting threads use it under a small lock of the handle's (it is off the hot path:
/// only a call that has to wait gets here).
class SpinBudget {
public:
  /// `cap_ns`: the most a wait may spin (WaitPolicy::spin).
  explicit SpinBudget(std::uint64_t cap_ns) noexcept;

  /// Nanoseconds the next wait may spin (0: sleep at once). Every kProbeEvery-th wait
  /// with a budget of 0 still spins kMinSpinNs, so a budget that fell to 0 can grow back.
  std::uint64_t next() noexcept;
  /// The wait ended while spinning, after `waited_ns`.
  void ended_spinning(std::uint64_t waited_ns) noexcept;
  /// The spin ran out (or there was none) and the wait slept; what it waited for came
  /// `waited_ns` after it began (as the waker stamped it). One that came within the cap
  /// would have been caught by a spin: it counts as ended_spinning(). A later one halves
  /// the budget.
  void ended_sleeping(std::uint64_t waited_ns) noexcept;

  std::uint64_t budget_ns() const noexcept { return budget_ns_; }

  /// Below this a spin is not worth its setup: the budget is then 0.
  static constexpr std::uint64_t kMinSpinNs = 2'000;
  /// A spin lasts this many times the typical wait that ended spinning: room for the
  /// usual jitter (a peer preempted for a moment) without spinning far past it.
  static constexpr std::uint64_t kHeadroom = 4;
  /// With a budget of 0, one wait in this many still spins kMinSpinNs (a probe).
  static constexpr std::uint32_t kProbeEvery = 16;

private:
  std::uint64_t cap_ns_;
  std::uint64_t budget_ns_;
  std::uint64_t typical_ns_ = 0; // moving average of waits that ended spinning
  std::uint32_t since_probe_ = 0;
};

} // namespace pysyncq::core
