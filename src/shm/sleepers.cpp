#include "shm/sleepers.hpp"

#include "platform/clock.hpp"

#include <array>

namespace pysyncq::shm {

namespace {
// An append of more messages than this wakes every announced member without looking at
// their screens: the look would cost more than the wakes it could spare.
constexpr std::size_t kLargestScreenedBatch = 64;
} // namespace

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
  // SYNC POINT: message sleep announced (seq_cst RMW; pairs with the appender's seq_cst
  // load in wake_message_sleepers). Before the caller's seq_cst re-check of tail. An RMW,
  // never a plain store: the word is then only ever changed by RMWs, so an appender's load
  // of any later value still synchronises with this one, and sees the screens that
  // publish_screens() stored before it.
  header_->message_wake_wanted.fetch_or(core::wake_bit_of(me.index), std::memory_order_seq_cst);
}

void Sleepers::wake_message_sleepers(std::string_view sender,
                                     std::span<const OutgoingMessage> batch) const noexcept {
  // seq_cst: Dekker with announce_message(): the appender stores tail then loads this,
  // the reader sets its bit here then loads tail; at least one sees the other.
  const std::uint32_t announced = header_->message_wake_wanted.load(std::memory_order_seq_cst);
  if (announced == 0) {
    return;
  }
  std::uint32_t bits = announced; // a batch too large to look at wakes every announced bit
  std::array<std::uint64_t, kLargestScreenedBatch> types{};
  if (batch.size() <= types.size()) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      types[i] = core::screen_hash(core::ScreenKind::kType, batch[i].type);
    }
    const core::AppendedHashes appended{core::screen_hash(core::ScreenKind::kSender, sender),
                                        std::span(types.data(), batch.size())};
    bits = core::bits_to_wake(*members_, announced, appended);
  }
  if (bits == 0) {
    return; // every announced member screens all of it out: they sleep on, announced
  }
  // Clear before the bump in wake(): a reader that announces after the clear stays
  // announced for the next append; one that announced before it read `seen` before the
  // bump, so its futex wait returns at once or is woken below. The bits spared stay set.
  header_->message_wake_wanted.fetch_and(~bits, std::memory_order_seq_cst);
  wake(WaitFor::kMessage, bits);
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
