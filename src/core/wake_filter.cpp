#include "core/wake_filter.hpp"

#include <algorithm>
#include <atomic>

namespace pysyncq::core {

std::uint64_t screen_hash(ScreenKind kind, std::string_view name) noexcept {
  constexpr std::uint64_t kOffsetBasis = 0xcbf2'9ce4'8422'2325ULL;
  constexpr std::uint64_t kPrime = 0x0000'0100'0000'01b3ULL;
  std::uint64_t hash = (kOffsetBasis ^ static_cast<std::uint8_t>(kind)) * kPrime;
  for (const char byte : name) {
    hash = (hash ^ static_cast<std::uint8_t>(byte)) * kPrime;
  }
  return hash;
}

namespace {

// Reads the slot's digest; false when the read may be torn (the seqlock's reader side).
bool read_screens(const MemberSlot &slot, ScreenDigest &digest) noexcept {
  // Acquire: pairs with the seq_cst store that ends a publish, below; a sequence read while odd
  // means a publish is under way.
  const std::uint32_t before = slot.screen_sequence.load(std::memory_order_acquire);
  if ((before & 1U) != 0) {
    return false;
  }
  // Acquire on every data load (free on x86 and ARM64's LDAR is cheap next to a futex
  // wake): a load that saw a publish's release store also sees that publish's odd
  // sequence, and no later load (the sequence re-read below) moves ahead of it. Fences
  // would do the same, but ThreadSanitizer does not model them.
  digest.count = slot.screen_count.load(std::memory_order_acquire);
  if (digest.count > kScreenHashSlots) {
    return false; // unknown (or garbage): the member wants everything
  }
  for (std::uint32_t i = 0; i < digest.count; ++i) {
    digest.hashes[i] = slot.screen_hashes[i].load(std::memory_order_acquire);
  }
  // Relaxed: ordered after the acquire loads above.
  return slot.screen_sequence.load(std::memory_order_relaxed) == before;
}

void write_screens(MemberSlot &slot, std::uint32_t even_sequence,
                   const ScreenDigest &digest) noexcept {
  // Release on every data store, after the odd sequence (stored by the caller): a waker
  // that reads any of them also reads the odd sequence, and distrusts the read.
  slot.screen_count.store(digest.count, std::memory_order_release);
  for (std::uint32_t i = 0; i < kScreenHashSlots; ++i) {
    slot.screen_hashes[i].store(digest.hashes[i], std::memory_order_release);
  }
  // seq_cst (a release at least): the owner announces its sleep after this, and a waker
  // that sees the announcement (an RMW chain on message_wake_wanted) sees this digest.
  slot.screen_sequence.store(even_sequence + 2, std::memory_order_seq_cst);
}

} // namespace

bool publish_screens(MemberSlot &slot, const ScreenDigest &digest) noexcept {
  ScreenDigest current;
  if (read_screens(slot, current) && current == digest) {
    return true; // the common case: the same screens as the last sleep, no write
  }
  std::uint32_t sequence = slot.screen_sequence.load(std::memory_order_relaxed);
  // Relaxed: the CAS only makes one thread of the owner the writer; the release stores
  // in write_screens order the odd value before the data.
  if ((sequence & 1U) != 0 || !slot.screen_sequence.compare_exchange_strong(
                                  sequence, sequence + 1, std::memory_order_relaxed)) {
    return false;
  }
  write_screens(slot, sequence, digest);
  return true;
}

void clear_screens(MemberSlot &slot) noexcept {
  // Under the lock on a free slot: no owner writes it. Any odd value a dead writer (or a
  // hostile one) left becomes even again.
  const std::uint32_t even = slot.screen_sequence.load(std::memory_order_relaxed) & ~1U;
  slot.screen_sequence.store(even + 1, std::memory_order_relaxed);
  write_screens(slot, even, ScreenDigest{});
}

bool screens_out_all(const MemberSlot &slot, const AppendedHashes &appended) noexcept {
  ScreenDigest digest;
  if (!read_screens(slot, digest) || digest.count == 0) {
    return false;
  }
  const auto first = digest.hashes.begin();
  const auto last = first + digest.count;
  if (std::find(first, last, appended.sender) != last) {
    return true; // the sender is screened: every message of the append with it
  }
  return !appended.types.empty() &&
         std::all_of(appended.types.begin(), appended.types.end(),
                     [&](std::uint64_t type) { return std::find(first, last, type) != last; });
}

std::uint32_t bits_to_wake(const MemberTable &members, std::uint32_t announced,
                           const AppendedHashes &appended) noexcept {
  std::uint32_t mapped = 0; // announced bits some slot maps to
  std::uint32_t wanted = 0; // announced bits some slot may want the append on
  const std::uint32_t end = members.scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const std::uint32_t bit = wake_bit_of(index);
    if ((announced & bit) == 0 || (wanted & bit) != 0) {
      continue;
    }
    mapped |= bit;
    const MemberSlot &slot = members.slot(index);
    // Acquire: SYNC POINT slot published, so the screens read are this member's.
    if (slot.state.load(std::memory_order_acquire) != kSlotActive ||
        !screens_out_all(slot, appended)) {
      wanted |= bit;
    }
  }
  return announced & (wanted | ~mapped);
}

} // namespace pysyncq::core
