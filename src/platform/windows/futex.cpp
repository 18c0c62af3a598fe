// Waiting and waking across processes on Windows. WaitOnAddress wakes only threads of the
// calling process, so each word a process may sleep on has a named manual-reset event,
// "Local\pysyncq-NAME/wOFFSET" (windows/mappings.cpp), shared by every process that maps
// the segment.
//
// The protocol (every caller of futex_wait re-checks its condition, and bounds its sleep):
//   wake:  the caller changed the word first; then SetEvent.
//   wait:  (1) the word differs from `expected`: return at once. (2) Sleep on the event.
//          (3) Signalled but the word still equals `expected`: the signal was for an
//          earlier value; ResetEvent and go to (1), which re-reads the word after the
//          reset, so a wake that came before the reset is not lost to this waiter.
// A reset can still take a signal from another waiter that is between its (1) and (2):
// that waiter then sleeps until its deadline. Every sleeper on a shared-memory queue
// sleeps at most kRecheckInterval (shm/sleepers.hpp) and re-checks, and the creator's
// one-off "ready" is never reset (its word never returns to kInitialising), so this costs
// latency in a rare race, never a lost message. docs/design.md, "Windows".
#include "platform/futex.hpp"

#include "platform/windows/mappings.hpp"
#include "platform/windows/win_error.hpp"

#include <windows.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace pysyncq::platform {

namespace {

// Milliseconds to wait for `deadline`, rounded up (a wait never ends before it).
DWORD wait_ms(Deadline deadline) noexcept {
  if (deadline.is_never()) {
    return INFINITE;
  }
  if (deadline.has_passed()) {
    return 0;
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.when() -
                                                                 Clock::now());
  constexpr long long kLongestFiniteWait = INFINITE - 1;
  return static_cast<DWORD>(std::clamp<long long>(left.count(), 0, kLongestFiniteWait));
}

} // namespace

FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline, std::uint32_t /*wake_bits*/) {
  HANDLE event = windows::word_event_for(&word);
  if (event == nullptr) {
    // Not in a mapped segment, or no event could be made: sleep a little and let the
    // caller re-check (the result it gets for a wake).
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return FutexWaitResult::kWokenOrChanged;
  }
  for (;;) {
    // Acquire: the caller reads what the waker wrote before it changed the word.
    if (word.load(std::memory_order_acquire) != expected) {
      return FutexWaitResult::kWokenOrChanged;
    }
    const DWORD result = ::WaitForSingleObject(event, wait_ms(deadline));
    if (result == WAIT_TIMEOUT) {
      if (deadline.has_passed()) {
        return FutexWaitResult::kTimedOut;
      }
      continue; // woke a rounding early
    }
    if (result != WAIT_OBJECT_0) {
      throw_windows_error("WaitForSingleObject", "queue wait word", ::GetLastError());
    }
    if (word.load(std::memory_order_acquire) != expected) {
      return FutexWaitResult::kWokenOrChanged;
    }
    ::ResetEvent(event); // a signal for an earlier value: see the top of this file
  }
}

void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept {
  HANDLE event = windows::word_event_for(&word);
  if (event != nullptr) {
    ::SetEvent(event); // cannot fail on a valid handle; sleepers re-check anyway
  }
}

// No sleeper selection here: every wake reaches every sleeper (futex.hpp allows it).
void futex_wake_bits(std::atomic<std::uint32_t> &word, std::uint32_t /*bits*/) noexcept {
  futex_wake_all(word);
}

} // namespace pysyncq::platform
