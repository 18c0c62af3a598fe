// Whom an append wakes. A member asleep for a message is woken only when some message of
// the append passes the screens it published in its slot (MemberSlot line 2: a seqlock
// over up to kScreenHashSlots hashes of screened senders and types). Whenever a slot
// cannot tell (a publish in progress, a torn read, more screens than fit, a slot not
// active), the member is woken: a wake too many costs a context switch, one too few
// would cost a sleeper up to its recheck interval. Pure functions over the slots and the
// messages' hashes, so unit tests drive them without processes
// (tests/unit/wake_filter_test.cpp). docs/design.md, "Waking only who wants a message".
#pragma once

#include "core/layout.hpp"
#include "core/membership.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace pysyncq::core {

enum class ScreenKind : std::uint8_t { kSender = 1, kType = 2 };

/// 64-bit FNV-1a over the kind byte, then the name's bytes: a sender and a type of the
/// same name hash apart. Equal names hash equal in every process.
std::uint64_t screen_hash(ScreenKind kind, std::string_view name) noexcept;

/// The bit of slot `index` in SegmentHeader::message_wake_wanted and in its sleepers'
/// futex wake bits. Slots 32 apart share a bit: waking one wakes both.
constexpr std::uint32_t wake_bit_of(std::uint32_t index) noexcept { return 1U << (index % 32); }

/// What a member screens out, as its slot holds it.
struct ScreenDigest {
  std::uint32_t count = 0; // hashes in use, or kScreensUnknown
  std::array<std::uint64_t, kScreenHashSlots> hashes{};
  bool operator==(const ScreenDigest &) const = default;
};

/// The digest of these screens (any ranges of names): their hashes when they fit,
/// else unknown (a member with more screens is woken for every message).
template <class Senders, class Types>
ScreenDigest digest_screens(const Senders &senders, const Types &types) {
  ScreenDigest digest;
  if (senders.size() + types.size() > kScreenHashSlots) {
    digest.count = kScreensUnknown;
    return digest;
  }
  for (const auto &sender : senders) {
    digest.hashes[digest.count++] = screen_hash(ScreenKind::kSender, sender);
  }
  for (const auto &type : types) {
    digest.hashes[digest.count++] = screen_hash(ScreenKind::kType, type);
  }
  return digest;
}

/// The owner, before it announces a sleep: makes its slot hold `digest`. Writes only when
/// the slot holds something else; returns false when it could not (another thread of the
/// owner is publishing at this moment, or the sequence was left odd: then wakers treat
/// the member as screening nothing).
bool publish_screens(MemberSlot &slot, const ScreenDigest &digest) noexcept;

/// Under the lock, when a slot is taken: no screens (a new member wants everything).
void clear_screens(MemberSlot &slot) noexcept;

/// The messages of one append as wakers see them: the sender's hash and each type's.
struct AppendedHashes {
  std::uint64_t sender = 0;
  std::span<const std::uint64_t> types;
};

/// Whether the member of `slot` screens out every message of `appended`, by what it
/// published. False whenever the slot cannot tell.
bool screens_out_all(const MemberSlot &slot, const AppendedHashes &appended) noexcept;

/// Of the `announced` bits (message_wake_wanted), the ones to wake for `appended`: a bit
/// is spared only when every slot below the scan bound that maps to it is active and
/// screens out all of it. A bit no slot maps to is woken (and so cleared).
std::uint32_t bits_to_wake(const MemberTable &members, std::uint32_t announced,
                           const AppendedHashes &appended) noexcept;

} // namespace pysyncq::core
