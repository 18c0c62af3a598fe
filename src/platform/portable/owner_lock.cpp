// The queue lock where there is no robust mutex (macOS; tested on Linux as the
// "portable" platform): one 64-bit atomic word that names its holder by identity,
// pid plus start time. Nothing tells a waiter that the holder died, so waiters sleep in
// bounded slices, look at the named holder after each, and take the lock over from a dead
// one with owner_died() set: the same repair as the Linux robust mutex's EOWNERDEAD.
//
// The lock line (docs/design.md, "The lock line per platform"):
//   bytes 0..7   owner: 0 when free; else pid (bits 0..31) | start-time tag (bits 32..62)
//                | kWaiters (bit 63)
//   bytes 8..11  wake: bumped by an unlock that saw kWaiters; the word waiters sleep on
//   the rest     zero
#include "platform/robust_mutex.hpp"

#include "platform/futex.hpp"
#include "platform/liveness.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <new>

namespace pysyncq::platform {

namespace {

using namespace std::chrono_literals;

struct LockLine {
  std::atomic<std::uint64_t> owner;
  std::atomic<std::uint32_t> wake;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the owner word is in shm");
static_assert(sizeof(LockLine) <= 64, "fits the layout's lock line");

// Set in `owner` by a waiter before it sleeps, so that the unlock knows to wake.
constexpr std::uint64_t kWaiters = 1ULL << 63;
constexpr std::uint64_t kPidMask = 0xFFFF'FFFFULL; // bits 0..31; pids are positive ints
constexpr int kTagShift = 32;
// 31 bits of the start time: with the pid they tell a reused pid apart unless the new
// process started a multiple of 2^31 start-time units after the dead one (Linux: clock
// ticks, 100 Hz, so 248 days; macOS: microseconds, so 36 minutes, to the microsecond).
constexpr std::uint64_t kTagMask = (1ULL << 31) - 1;

// The longest one sleep on the lock lasts. A dead holder wakes nobody, so this is also
// how long it takes at most for a waiter to notice a holder's death (after the holder
// held the lock that long). 10 ms, as the Linux lock's rescue interval: quick enough
// after a crash, and a waiter's cost (a liveness look per slice, only while it waits
// behind a holder that keeps the lock for a whole slice) is invisible beside the wait.
constexpr auto kLockRecheck = 10ms;

LockLine &line_of(std::byte *storage) noexcept {
  return *std::launder(reinterpret_cast<LockLine *>(storage));
}

std::uint64_t word_for(const ProcessIdentity &identity) noexcept {
  return (static_cast<std::uint64_t>(identity.pid) & kPidMask) |
         ((identity.start_time & kTagMask) << kTagShift);
}

// This process's owner word, computed once per process (reading the start time costs
// system calls; the uncontended lock must cost none). A forked child computes its own.
std::uint64_t my_word() {
  // Relaxed generation check, release/acquire on the pair: a thread that sees the
  // current generation also sees the word stored before it. SYNC POINT: owner word cached.
  static std::atomic<std::uint64_t> cached_word{0};
  static std::atomic<std::uint64_t> cached_generation{~0ULL};
  const std::uint64_t generation = fork_generation();
  if (cached_generation.load(std::memory_order_acquire) != generation) {
    cached_word.store(word_for(current_process()), std::memory_order_relaxed);
    cached_generation.store(generation, std::memory_order_release);
  }
  return cached_word.load(std::memory_order_relaxed);
}

// True when the process that `owner` names has exited (a zombie counts) or its pid now
// belongs to a process with another start time.
bool holder_is_dead(std::uint64_t owner) noexcept {
  const auto pid = static_cast<std::int64_t>(owner & kPidMask);
  if (pid <= 0 || pid > INT32_MAX) {
    return true; // names no process: only a hostile writer puts this here
  }
  const auto start = start_time_of(static_cast<int>(pid));
  return !start || (*start & kTagMask) != ((owner >> kTagShift) & kTagMask);
}

enum class Outcome { kHeld, kTookOver, kTimedOut };

// The contended path. Each round: (1) free: take it; (2) after a slice that timed out,
// a dead holder: take it over; (3) the caller's deadline passed: give up; (4) else mark
// kWaiters and sleep on `wake` for at most a slice.
Outcome lock_slow(LockLine &line, std::uint64_t me, Deadline deadline) {
  bool slept_a_slice = false;
  for (;;) {
    // Read `wake` before `owner`: an unlock after this read bumps it, so the sleep below
    // returns at once instead of missing that unlock. SYNC POINT: lock wake (acquire;
    // pairs with the unlock's release bump).
    const std::uint32_t seen = line.wake.load(std::memory_order_acquire);
    std::uint64_t owner = line.owner.load(std::memory_order_acquire);
    if (owner == 0) {
      // SYNC POINT: lock handover (acquire; pairs with the unlock's release exchange).
      if (line.owner.compare_exchange_strong(owner, me, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
        return Outcome::kHeld;
      }
      continue; // someone else took it first
    }
    if (slept_a_slice && holder_is_dead(owner)) {
      // Keep kWaiters: others may sleep, and our unlock must wake them. Exactly one of
      // the waiters that saw this dead word wins the exchange; the rest see the new one.
      if (line.owner.compare_exchange_strong(owner, me | (owner & kWaiters),
                                             std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
        return Outcome::kTookOver;
      }
      continue;
    }
    if (deadline.has_passed()) {
      return Outcome::kTimedOut;
    }
    // Relaxed: the bit only asks the holder's unlock to wake; `wake` orders the rest.
    if ((owner & kWaiters) == 0 &&
        !line.owner.compare_exchange_strong(owner, owner | kWaiters, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
      continue; // the word changed: look again
    }
    const Deadline slice = Deadline::after(kLockRecheck);
    const Deadline until = slice.when() < deadline.when() ? slice : deadline;
    slept_a_slice = futex_wait(line.wake, seen, until) == FutexWaitResult::kTimedOut;
  }
}

} // namespace

std::size_t robust_mutex_bytes() noexcept { return sizeof(LockLine); }

std::uint32_t robust_mutex_kind() noexcept { return kLockKindOwnerWord; }

void robust_mutex_init(std::byte *storage) {
  auto *line = new (storage) LockLine;
  line->owner.store(0, std::memory_order_relaxed); // published by the segment's ready
  line->wake.store(0, std::memory_order_relaxed);
}

RobustLock::RobustLock(std::byte *storage) : RobustLock(storage, Deadline::never()) {}

RobustLock::RobustLock(std::byte *storage, Deadline deadline) : storage_(storage) {
  LockLine &line = line_of(storage_);
  const std::uint64_t me = my_word();
  std::uint64_t expected = 0;
  // Uncontended: one compare-and-swap, no clock read, no system call.
  // SYNC POINT: lock handover (acquire; pairs with the unlock's release exchange).
  if (line.owner.compare_exchange_strong(expected, me, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
    return;
  }
  switch (lock_slow(line, me, deadline)) {
  case Outcome::kHeld:
    return;
  case Outcome::kTookOver:
    owner_died_ = true;
    return;
  case Outcome::kTimedOut:
    held_ = false;
    return;
  }
}

int robust_mutex_holder(const std::byte *storage) noexcept {
  // Relaxed: a snapshot for a message, ordered with nothing.
  const auto &line = *std::launder(reinterpret_cast<const LockLine *>(storage));
  return static_cast<int>(line.owner.load(std::memory_order_relaxed) & kPidMask);
}

void RobustLock::mark_consistent() {
  // Nothing in shared memory to clear: a later holder learns of a death only from a dead
  // name in `owner`, and ours is alive.
  owner_died_ = false;
}

RobustLock::~RobustLock() {
  if (!held_) {
    return;
  }
  LockLine &line = line_of(storage_);
  // SYNC POINT: lock handover (release; the next holder's acquire sees our writes).
  const std::uint64_t previous = line.owner.exchange(0, std::memory_order_release);
  if ((previous & kWaiters) != 0) {
    // SYNC POINT: lock wake (release; a waiter that reads the new value sees owner 0).
    line.wake.fetch_add(1, std::memory_order_release);
    futex_wake_all(line.wake);
  }
}

} // namespace pysyncq::platform
