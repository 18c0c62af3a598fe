// Going to sleep and waking in a shared-memory queue: the one place where waits are made.
//
// A waiter first spins (spin_wait.hpp, no syscall), then announces itself under the queue
// lock and sleeps on one of two futex words in the header, for at most kRecheckInterval
// at a time. Wakers bump the word and wake only when the announced count says someone
// sleeps, so the hot path makes no syscall. docs/design.md, "Waiting without polling,
// and without syscalls on the hot path", says why each order is what it is.
#pragma once

#include "core/layout.hpp"
#include "deadlines.hpp"
#include "platform/clock.hpp"
#include "platform/futex.hpp"
#include "shm/registration.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pysyncq::shm {

// The longest any waiter sleeps before it looks at the queue again. Wakers change the
// queue first and wake sleepers after; one killed in between never wakes them. So a
// blocked append reaps a member killed while holding space within this, and a blocked
// pop sees a message whose writer was killed right after publishing it within this.
// Costs an idle waiter one futex call per interval.
inline constexpr std::chrono::milliseconds kRecheckInterval{100};

// What a thread sleeps for: each has its futex word and its queue-wide sleeper count.
enum class WaitFor { kMessage, kSpace };

// The sleeper bookkeeping of one segment: the futex words, the queue-wide counts that
// wakers read, and each member slot's own counts (so reaping and crash repair can take
// a dead sleeper's counts back). Holds only a pointer to the header; cheap to copy.
class Sleepers {
public:
  explicit Sleepers(core::SegmentHeader &header) noexcept : header_(&header) {}

  // --- wakers ---

  // Wakes every thread asleep on `what`'s word, in any process. Any thread, no lock.
  void wake(WaitFor what) const noexcept {
    std::atomic<std::uint32_t> &word = word_of(what);
    // Relaxed: when the event came, a hint for the woken sleepers' learning (SpinWait).
    header_->last_wake_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
    // Relaxed: the futex word carries no data; sleepers re-check the queue itself.
    word.fetch_add(1, std::memory_order_relaxed);
    platform::futex_wake_all(word);
  }

  // Wakes appenders waiting for space, if any announced itself. No lock. A caller that
  // just freed space must have stored its cursor seq_cst before this (see release_space).
  void wake_space_sleepers() const noexcept {
    // seq_cst: ordered after the caller's seq_cst cursor store (Dekker with announce()).
    if (header_->space_sleepers.load(std::memory_order_seq_cst) != 0) {
      wake(WaitFor::kSpace);
    }
  }

  // Under the lock, by an appender that published: whether a reader sleeps for a message.
  bool message_sleepers_announced() const noexcept {
    // Relaxed: counts change only under the lock we hold.
    return header_->message_sleepers.load(std::memory_order_relaxed) != 0;
  }

  // --- sleepers ---

  // Under the lock: counts this thread as asleep, in the slot (so reaping and recovery
  // can take it back) and in the queue-wide count that wakers read.
  void announce(const Registration &me, WaitFor what) const noexcept;

  // Under the lock: the value of `what`'s word now, for sleep() to compare against.
  std::uint32_t word_now(WaitFor what) const noexcept {
    // Relaxed: read under the lock; each caller says why no bump can be missed.
    return word_of(what).load(std::memory_order_relaxed);
  }

  // Under the lock: takes back an announce() of `me` that no close or reap took back yet.
  void retract(const Registration &me, WaitFor what) const noexcept;

  // Sleeps on `what`'s word after announce(), until it moves from `seen`, a wake, or
  // `until`; then takes the announcement back under the lock (`with_lock(step)` runs step
  // holding it), also when the wait throws. The caller re-checks the queue.
  template <class WithLock>
  void sleep(const Registration &me, WaitFor what, std::uint32_t seen, Deadline until,
             WithLock &&with_lock) const {
    try {
      (void)platform::futex_wait(word_of(what), seen, until); // the caller re-checks the queue
    } catch (...) {
      with_lock([&] { retract(me, what); });
      throw;
    }
    with_lock([&] { retract(me, what); });
  }

  // The end of one sleep of a wait that ends at `deadline`.
  static Deadline nap_until(Deadline deadline) noexcept {
    return earlier(Deadline::after(kRecheckInterval), deadline);
  }

private:
  std::atomic<std::uint32_t> &word_of(WaitFor what) const noexcept {
    return what == WaitFor::kSpace ? header_->space_futex : header_->message_futex;
  }
  std::atomic<std::uint32_t> &count_of(WaitFor what) const noexcept {
    return what == WaitFor::kSpace ? header_->space_sleepers : header_->message_sleepers;
  }
  static std::uint32_t unit_of(WaitFor what) noexcept {
    return what == WaitFor::kSpace ? core::kSpaceSleeperUnit : core::kMessageSleeperUnit;
  }

  core::SegmentHeader *header_;
};

} // namespace pysyncq::shm
