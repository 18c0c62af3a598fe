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

/// How a blocked call waits. It first spins (re-checking shared memory, no syscall), then
/// sleeps in the kernel until woken or the deadline passes.
///
/// The default is adaptive, in C++ and Python alike: it spins only while that can pay off,
/// for at most `spin`. At most one waiter per CPU beyond the first spins on a queue at a
/// time (the others sleep at once, so 8 processes on 2 cores do not starve each other),
/// and each handle spins about as long as its recent waits took (none when they were
/// long). docs/design.md, "Adaptive waits".
///
/// fixed(d) always spins d, then sleeps; sleep() sleeps at once (lowest CPU); spin_only()
/// never sleeps (lowest latency, one core burnt per waiter).
struct WaitPolicy {
  std::chrono::nanoseconds spin{std::chrono::microseconds(50)};
  bool adaptive = true;

  static WaitPolicy adaptive_up_to(std::chrono::nanoseconds most) noexcept { return {most, true}; }
  static WaitPolicy fixed(std::chrono::nanoseconds spin) noexcept { return {spin, false}; }
  static WaitPolicy sleep() noexcept { return {std::chrono::nanoseconds(0), false}; }
  static WaitPolicy spin_only() noexcept { return {std::chrono::nanoseconds::max(), false}; }

  /// True for spin_only(): a blocked call never sleeps in the kernel.
  bool never_sleeps() const noexcept {
    return !adaptive && spin == std::chrono::nanoseconds::max();
  }
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
