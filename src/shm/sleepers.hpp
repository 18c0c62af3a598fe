// Going to sleep and waking in a shared-memory queue: the one place where waits are made.
//
// A waiter first spins (spin_wait.hpp, no syscall), then announces itself (for space
// under the queue lock, for a message without it) and sleeps on one of two futex words
// in the header, for at most kRecheckInterval at a time. Wakers bump the word and wake
// only when an announcement says someone sleeps, so the hot path makes no syscall; an
// append wakes only the members that want one of its messages (core/wake_filter.hpp).
// docs/design.md, "Waiting without polling, and without syscalls on the hot path", says
// why each order is what it is.
#pragma once

#include "core/layout.hpp"
#include "core/membership.hpp"
#include "core/wake_filter.hpp"
#include "deadlines.hpp"
#include "platform/clock.hpp"
#include "platform/futex.hpp"
#include "pysyncq/queue.hpp"
#include "shm/registration.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

namespace pysyncq::shm {

// The longest any waiter sleeps before it looks at the queue again. Wakers change the
// queue first and wake sleepers after; one killed in between never wakes them. So a
// blocked append reaps a member killed while holding space within this, and a blocked
// pop sees a message whose writer was killed right after publishing it within this.
// Costs an idle waiter one futex call per interval.
inline constexpr std::chrono::milliseconds kRecheckInterval{100};

// What a thread sleeps for: each has its futex word in the header.
enum class WaitFor { kMessage, kSpace };

// The sleeper bookkeeping of one segment: the futex words, what wakers read to decide
// whether to wake (space_sleepers; message_wake_wanted), the queue-wide counts, and each
// member slot's own counts (so reaping and crash repair can take a dead sleeper's counts
// back). Holds only pointers to the header and the member table; cheap to copy.
class Sleepers {
public:
  Sleepers(core::SegmentHeader &header, const core::MemberTable &members) noexcept
      : header_(&header), members_(&members) {}

  // --- wakers ---

  // Wakes every thread asleep on `what`'s word, in any process. Any thread, no lock.
  void wake(WaitFor what) const noexcept { wake(what, platform::kEveryWakeBit); }

  // Wakes appenders waiting for space, if any announced itself. No lock. A caller that
  // just freed space must have stored its cursor seq_cst before this (see release_space).
  void wake_space_sleepers() const noexcept {
    // seq_cst: ordered after the caller's seq_cst cursor store (Dekker with announce()).
    if (header_->space_sleepers.load(std::memory_order_seq_cst) != 0) {
      wake(WaitFor::kSpace);
    }
  }

  // Wakes the readers asleep for a message that want one of `batch` (appended by
  // `sender`), if any announced itself since it was last woken. No lock. The caller must
  // have published tail with a seq_cst store before this. Costs an append with nobody
  // asleep one load of a line that only sleepers and wakers write.
  void wake_message_sleepers(std::string_view sender,
                             std::span<const OutgoingMessage> batch) const noexcept;

  // --- sleepers for space: under the queue lock ---

  // Under the lock: counts this thread as asleep for space, in the slot (so reaping and
  // recovery can take it back) and in the queue-wide count that wakers read.
  void announce(const Registration &me) const noexcept;

  // Under the lock: the value of the space word now, for sleep() to compare against.
  std::uint32_t space_word_now() const noexcept {
    // Relaxed: read under the lock; wait_for_space_as says why no bump can be missed.
    return header_->space_futex.load(std::memory_order_relaxed);
  }

  // Under the lock: takes back an announce() of `me` that no close or reap took back yet.
  void retract(const Registration &me) const noexcept;

  // Sleeps on the space word after announce(), until it moves from `seen`, a wake, or
  // `until`; then takes the announcement back under the lock (`with_lock(step)` runs step
  // holding it), also when the wait throws. The caller re-checks the queue.
  template <class WithLock>
  void sleep_for_space(const Registration &me, std::uint32_t seen, Deadline until,
                       WithLock &&with_lock) const {
    try {
      (void)platform::futex_wait(header_->space_futex, seen, until); // the caller re-checks
    } catch (...) {
      with_lock([&] { retract(me); });
      throw;
    }
    with_lock([&] { retract(me); });
  }

  // --- sleepers for a message: no lock (docs/design.md, "Waiting without polling") ---
  //
  // A reader: seen = message_word_now(); announce_message(); re-check tail (seq_cst);
  // sleep_for_message(seen), or retract_message() if the re-check found a message.

  // The message word, read (seq_cst) before announcing: every clear of the announcement
  // is followed by a bump, so a sleep on a word read before the announcement cannot
  // outlast a wake that cleared it.
  std::uint32_t message_word_now() const noexcept {
    return header_->message_futex.load(std::memory_order_seq_cst);
  }

  // Counts this thread as asleep for a message (the queue-wide hint, then its slot's
  // count, which reaping takes back) and sets message_wake_wanted (seq_cst, so the
  // caller's next load of tail comes after it in the one total order).
  void announce_message(const Registration &me) const noexcept;

  // Takes back announce_message()'s counts unless a close or reap already did (the slot's
  // count says which). message_wake_wanted stays: it is only a wish, and the next append
  // clears it with one extra wake.
  void retract_message(const Registration &me) const noexcept;

  // Sleeps on the message word until it moves from `seen`, a wake, or `until`, then
  // retracts. The caller re-checks the queue.
  void sleep_for_message(const Registration &me, std::uint32_t seen, Deadline until) const {
    try {
      // Only wakes for our slot's bit reach us: appends we screen out do not.
      (void)platform::futex_wait(header_->message_futex, seen, until,
                                 core::wake_bit_of(me.index)); // the caller re-checks
    } catch (...) {
      retract_message(me);
      throw;
    }
    retract_message(me);
  }

  // The end of one sleep of a wait that ends at `deadline`.
  static Deadline nap_until(Deadline deadline) noexcept {
    return earlier(Deadline::after(kRecheckInterval), deadline);
  }

  // The owner of `me`, before it announces a sleep for a message: its slot tells wakers
  // what it screens out (core/wake_filter.hpp), from `senders` and `types`.
  template <class Senders, class Types>
  void publish_screens(const Registration &me, const Senders &senders,
                       const Types &types) const noexcept {
    (void)core::publish_screens(*me.slot, core::digest_screens(senders, types));
  }

private:
  // Bumps `what`'s word and wakes its sleepers whose wake bits meet `bits`.
  void wake(WaitFor what, std::uint32_t bits) const noexcept {
    std::atomic<std::uint32_t> &word = word_of(what);
    // Relaxed: when the event came, a hint for the woken sleepers' learning (SpinWait).
    header_->last_wake_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
    // seq_cst: after wake_message_sleepers()'s clear of message_wake_wanted bits in the
    // one total order, so a reader whose announcement the clear took read `seen` before
    // this bump and its sleep ends at once (see announce_message). Space sleepers read
    // the word under the lock and need no more than the lock.
    word.fetch_add(1, std::memory_order_seq_cst);
    if (bits == platform::kEveryWakeBit) {
      platform::futex_wake_all(word);
    } else {
      platform::futex_wake_bits(word, bits);
    }
  }

  std::atomic<std::uint32_t> &word_of(WaitFor what) const noexcept {
    return what == WaitFor::kSpace ? header_->space_futex : header_->message_futex;
  }

  core::SegmentHeader *header_;
  const core::MemberTable *members_;
};

} // namespace pysyncq::shm
