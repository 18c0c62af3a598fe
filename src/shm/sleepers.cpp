#include "shm/sleepers.hpp"

#include "platform/clock.hpp"

namespace pysyncq::shm {

void Sleepers::announce(const Registration &me) const noexcept {
  // seq_cst: the space re-check that follows must not move before it (Dekker with
  // the reader's cursor store then load of space_sleepers).
  header_->space_sleepers.fetch_add(1, std::memory_order_seq_cst);
  me.slot->waiting.fetch_add(core::kSpaceSleeperUnit, std::memory_order_relaxed);
  me.slot->waiting_since_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
}

void Sleepers::retract(const Registration &me) const noexcept {
  // A close or reap under the lock may have taken our counts back already.
  if (!me.still_ours()) {
    return;
  }
  const std::uint32_t waiting = me.slot->waiting.load(std::memory_order_relaxed);
  if (core::space_sleepers_of(waiting) == 0) {
    return;
  }
  me.slot->waiting.fetch_sub(core::kSpaceSleeperUnit, std::memory_order_relaxed);
  header_->space_sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void Sleepers::announce_message(const Registration &me) const noexcept {
  // The queue-wide hint first and the slot second (retract_message the other way round),
  // so the hint is never below the slots' sum and a leave's take-back never wraps it.
  // Relaxed: counts for the spin rule and stats; they publish nothing.
  header_->message_sleepers.fetch_add(1, std::memory_order_relaxed);
  me.slot->waiting.fetch_add(core::kMessageSleeperUnit, std::memory_order_relaxed);
  me.slot->waiting_since_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  // SYNC POINT: message sleep announced (seq_cst store; pairs with the appender's seq_cst
  // load in wake_message_sleepers). Before the caller's seq_cst re-check of tail.
  header_->message_wake_wanted.store(1, std::memory_order_seq_cst);
}

void Sleepers::retract_message(const Registration &me) const noexcept {
  // A close of another thread of ours (leave) may have freed the slot and taken our
  // count back with one exchange; the compare-and-swap below then finds the half at 0.
  // Cases of the loop: (1) the half is 0: taken back already, nothing to do; (2) the CAS
  // succeeds: this thread took its unit back and now owns taking back its hint unit;
  // (3) the CAS fails because another thread of ours, or a take-back, changed the word:
  // `waiting` is reloaded and the cases are tried again.
  if (!me.still_ours()) {
    return;
  }
  std::uint32_t waiting = me.slot->waiting.load(std::memory_order_relaxed);
  for (;;) {
    if (core::message_sleepers_of(waiting) == 0) {
      return;
    }
    // Relaxed: a count; nothing is published through it.
    if (me.slot->waiting.compare_exchange_weak(waiting, waiting - core::kMessageSleeperUnit,
                                               std::memory_order_relaxed)) {
      break;
    }
  }
  header_->message_sleepers.fetch_sub(1, std::memory_order_relaxed);
}

} // namespace pysyncq::shm
