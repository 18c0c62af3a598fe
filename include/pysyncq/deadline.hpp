// Time in the pysyncq API: one deadline per call, on the monotonic clock, and the
// policy that says how a blocked call spends the time until then.
#pragma once

#include <chrono>

namespace pysyncq {

using Clock = std::chrono::steady_clock; // CLOCK_MONOTONIC: comparable across processes

/// When a blocking call gives up. One deadline per call, so a pop that skips screened
/// messages does not restart its timer.
class Deadline {
public:
  /// Do not wait at all.
  static Deadline now() noexcept { return Deadline(Clock::time_point::min()); }
  /// Wait as long as it takes.
  static Deadline never() noexcept { return Deadline(Clock::time_point::max()); }
  /// Wait at most `timeout` from now (negative means do not wait).
  static Deadline after(std::chrono::nanoseconds timeout) noexcept;
  static Deadline at(Clock::time_point when) noexcept { return Deadline(when); }

  bool is_never() const noexcept { return when_ == Clock::time_point::max(); }
  bool has_passed() const noexcept { return !is_never() && Clock::now() >= when_; }
  Clock::time_point when() const noexcept { return when_; }

private:
  explicit Deadline(Clock::time_point when) noexcept : when_(when) {}
  Clock::time_point when_;
};

/// How a blocked call waits. It first spins (re-checking shared memory, no syscall) for
/// `spin`, then sleeps in the kernel (futex) until woken or the deadline passes.
/// spin = 0 sleeps at once (lowest CPU); spin = Deadline-long spins only (lowest latency,
/// one core burnt per waiter). The default suits a machine with spare cores.
struct WaitPolicy {
  std::chrono::nanoseconds spin{std::chrono::microseconds(50)};

  static WaitPolicy sleep() noexcept { return {std::chrono::nanoseconds(0)}; }
  static WaitPolicy spin_only() noexcept { return {std::chrono::nanoseconds::max()}; }
};

inline Deadline Deadline::after(std::chrono::nanoseconds timeout) noexcept {
  const auto start = Clock::now();
  if (timeout.count() <= 0) {
    return Deadline(start);
  }
  if (timeout >= Clock::time_point::max() - start) {
    return never(); // saturate instead of overflowing into the past
  }
  return Deadline(start + std::chrono::duration_cast<Clock::duration>(timeout));
}

} // namespace pysyncq
