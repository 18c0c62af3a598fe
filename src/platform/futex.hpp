// Waiting and waking across processes on a 32-bit word in shared memory ("futex" in the
// general sense: sleep while the word holds a value). Only the shared kinds ever: the
// waiters are in other processes, which map the word at other addresses.
//
// Per OS (chosen by CMake): linux/futex.cpp (futex(2), never the PRIVATE variants);
// darwin/wait_on_address.cpp (os_sync_wait_on_address or __ulock_wait, SHARED flags).
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

/// The wake bits of a sleeper that every wake reaches.
inline constexpr std::uint32_t kEveryWakeBit = 0xFFFF'FFFFU;

/// Sleeps while `*word == expected`, until woken or `deadline` (absolute, monotonic).
/// `wake_bits` (not 0): which futex_wake_bits() calls reach this sleeper, those whose bits
/// share one with it; futex_wake_all() reaches every sleeper whatever its bits.
FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline, std::uint32_t wake_bits = kEveryWakeBit);

/// Wakes every sleeper on `word`. Waking all, never one, means a sleeper killed in its
/// sleep can never swallow the wake-up that a live sleeper needed.
void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept;

/// Wakes every sleeper on `word` whose wake bits share one with `bits` (Linux: the
/// kernel's bitset wake, one system call). Where the OS cannot tell sleepers apart
/// (macOS, Windows) it wakes them all: a sleeper must treat any wake as a hint anyway.
void futex_wake_bits(std::atomic<std::uint32_t> &word, std::uint32_t bits) noexcept;

} // namespace pysyncq::platform
