// The member table: who is registered, where each one reads, and reaping the dead.
// Everything here that changes a slot's identity runs under the queue lock; the owner
// changes only its own cursor and read count, without the lock.
#pragma once

#include "core/layout.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace pysyncq::core {

/// Tells whether the process (pid, start_time) still lives. Supplied by the platform.
using IsAlive = std::function<bool(int pid, std::uint64_t start_time)>;

class MemberTable {
public:
  MemberTable() = default;
  /// `max_members` and `capacity_bytes` are the process's validated copies of the
  /// geometry (Segment::geometry), never the header's fields: a writer to the segment may
  /// change those at any time, and every scan here is bounded by the copies instead.
  MemberTable(SegmentHeader *header, MemberSlot *slots, std::uint32_t max_members,
              std::uint64_t capacity_bytes) noexcept
      : header_(header), slots_(slots), max_members_(max_members),
        capacity_bytes_(capacity_bytes) {}

  MemberSlot &slot(std::uint32_t index) const noexcept { return slots_[index]; }
  std::uint32_t max_members() const noexcept { return max_members_; }

  /// Slots worth scanning: those below the highest index ever used. Never above the limit,
  /// even in a corrupt segment.
  std::uint32_t scan_end() const noexcept;

  /// Under the lock: takes a free slot for (pid, start_time, sender) reading from
  /// `cursor`, and publishes it. nullopt when every slot is taken.
  std::optional<std::uint32_t> join(int pid, std::uint64_t start_time, std::string_view sender,
                                    std::uint64_t cursor) const noexcept;

  /// Under the lock: frees a slot (its unread bytes stop counting at once).
  void leave(std::uint32_t index) const noexcept;

  /// Under the lock: the slowest cursor of all active members, or `tail` when none.
  /// Cursors above `tail` or more than capacity behind it are corrupt and ignored.
  std::uint64_t slowest_cursor(std::uint64_t tail) const noexcept;

  /// Under the lock: frees every active slot whose process is gone and fixes the sleeper
  /// counts it held; returns how many. `only_at_cursor` limits the scan to members whose
  /// cursor equals it (the ones holding back space), to keep waits cheap.
  std::uint32_t reap_dead(const IsAlive &is_alive,
                          std::optional<std::uint64_t> only_at_cursor = std::nullopt) const;

  /// Under the lock, after a lock holder died: what it may have left half-updated is
  /// made whole again from the slots themselves. The scan bound grows to cover every
  /// active slot, and the space sleeper counter, the ticket count and the member count
  /// are recounted (join, leave and a sleep for space each update them in more than one
  /// step). Not the message sleeper count: it changes without the lock (a hint).
  void repair_after_crash() const noexcept;

  /// Active slots whose cursor equals `position` (the members holding back the oldest
  /// unread message when `position` is the slowest cursor).
  std::vector<std::uint32_t> members_at(std::uint64_t position) const;

  // --- space tickets: blocked appenders are served in the order they started waiting ---

  /// Under the lock: gives slot `index` the next ticket, for an append of `needed` bytes.
  /// A slot holds at most one; returns 0 (and changes nothing) when it has one already.
  std::uint64_t take_ticket(std::uint32_t index, std::uint64_t needed) const noexcept;

  /// Under the lock: gives back slot `index`'s ticket, if it is still `ticket`.
  void return_ticket(std::uint32_t index, std::uint64_t ticket) const noexcept;

  /// Under the lock: bytes that appends waiting since before `ticket` still need (every
  /// waiting append's for `ticket` 0, an append that holds no ticket). Dead holders count
  /// until they are reaped. O(1) while nobody holds a ticket.
  std::uint64_t reserved_before(std::uint64_t ticket) const noexcept;

  /// Whether any ticket holder's process is gone (a blocked appender reaps them: an
  /// unreaped dead ticket would hold every later append back).
  bool has_dead_ticket_holder(const IsAlive &is_alive) const;

private:
  SegmentHeader *header_ = nullptr;
  MemberSlot *slots_ = nullptr;
  std::uint32_t max_members_ = 0;
  std::uint64_t capacity_bytes_ = 0;
};

} // namespace pysyncq::core
