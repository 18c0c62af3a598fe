// Futex waits and wakes on 32-bit words in shared memory. Never the PRIVATE variants:
// the waiters are in other processes, which map the word at other addresses.
#pragma once

#include "pysyncq/deadline.hpp"

#include <atomic>
#include <cstdint>

namespace pysyncq::platform {

enum class FutexWaitResult {
  kWokenOrChanged, // woken, or the word no longer held `expected`: re-check the condition
  kTimedOut,       // the deadline passed
  kInterrupted,    // a signal arrived (EINTR): let the caller look at it, then re-check
};

/// Sleeps while `*word == expected`, until woken or `deadline` (absolute, monotonic).
FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline);

/// Wakes every sleeper on `word`. Waking all, never one, means a sleeper killed in its
/// sleep can never swallow the wake-up that a live sleeper needed.
void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept;

} // namespace pysyncq::platform
