// The queue lock on Windows: a named kernel mutex, "Local\pysyncq-NAME/lock", opened
// when the segment is mapped (windows/mappings.cpp). When its holder dies, the kernel
// hands it to the next waiter with WAIT_ABANDONED, the EOWNERDEAD of Windows: owner_died()
// is set and the same repair as on Linux runs. A kernel mutex belongs to a thread: lock
// and unlock on the same thread (RobustLock is a scope, so they are).
//
// The lock line in the segment holds only the holder's pid (bytes 0..3), written after
// each lock and cleared before each unlock, for robust_mutex_holder()'s messages; the
// mutex itself is the kernel's.
#include "platform/robust_mutex.hpp"

#include "platform/windows/mappings.hpp"
#include "platform/windows/win_error.hpp"

#include <windows.h>

#include <atomic>
#include <chrono>
#include <new>

namespace pysyncq::platform {

namespace {

struct LockLine {
  std::atomic<std::uint32_t> holder_pid;
};
static_assert(sizeof(LockLine) <= 64, "fits the layout's lock line");

LockLine &line_of(std::byte *storage) noexcept {
  return *std::launder(reinterpret_cast<LockLine *>(storage));
}

// Milliseconds to wait for `deadline`, as WaitForSingleObject takes them.
DWORD wait_ms(Deadline deadline) noexcept {
  if (deadline.is_never()) {
    return INFINITE;
  }
  if (deadline.has_passed()) {
    return 0; // also Deadline::now(), whose time point cannot be subtracted from
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.when() -
                                                                 Clock::now());
  if (left.count() <= 0) {
    return 0;
  }
  constexpr long long kLongestFiniteWait = INFINITE - 1;
  return static_cast<DWORD>(std::min<long long>(left.count(), kLongestFiniteWait));
}

} // namespace

std::size_t robust_mutex_bytes() noexcept { return sizeof(LockLine); }

std::uint32_t robust_mutex_kind() noexcept { return kLockKindWindowsMutex; }

void robust_mutex_init(std::byte *storage) {
  // The mutex was created with the view (register_view); the line holds only the pid.
  auto *line = new (storage) LockLine;
  line->holder_pid.store(0, std::memory_order_relaxed); // published by the segment's ready
}

RobustLock::RobustLock(std::byte *storage) : RobustLock(storage, Deadline::never()) {}

RobustLock::RobustLock(std::byte *storage, Deadline deadline) : storage_(storage) {
  HANDLE mutex = windows::lock_mutex_for(storage_);
  const DWORD result = ::WaitForSingleObject(mutex, wait_ms(deadline));
  switch (result) {
  case WAIT_OBJECT_0:
    break;
  case WAIT_ABANDONED: // held now, and its last holder died holding it
    owner_died_ = true;
    break;
  case WAIT_TIMEOUT:
    held_ = false;
    return;
  default:
    held_ = false;
    throw_windows_error("WaitForSingleObject", "queue lock", ::GetLastError());
  }
  // Relaxed: a note for messages, ordered with nothing (the mutex orders the queue).
  line_of(storage_).holder_pid.store(::GetCurrentProcessId(), std::memory_order_relaxed);
}

int robust_mutex_holder(const std::byte *storage) noexcept {
  // Relaxed: a snapshot for a message, ordered with nothing.
  const auto &line = *std::launder(reinterpret_cast<const LockLine *>(storage));
  return static_cast<int>(line.holder_pid.load(std::memory_order_relaxed));
}

void RobustLock::mark_consistent() {
  // Nothing to tell the kernel: after WAIT_ABANDONED the mutex is simply held by us.
  owner_died_ = false;
}

RobustLock::~RobustLock() {
  if (!held_) {
    return;
  }
  line_of(storage_).holder_pid.store(0, std::memory_order_relaxed);
  // Cannot fail on a mutex this thread holds (the handle lives as long as the view).
  ::ReleaseMutex(windows::lock_mutex_for(storage_));
}

} // namespace pysyncq::platform
