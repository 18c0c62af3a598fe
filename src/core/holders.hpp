// The rules about space: how much is free, who holds back the oldest unread message,
// whether any of them can still free it, which dead members a blocked append reaps, and
// when. Pure functions over the member table, liveness and time injected (as reap_dead
// takes them), so unit tests drive them without a kernel (tests/unit/holders_test.cpp).
// The space tickets themselves are MemberTable's (core/membership.hpp).
// docs/design.md, "Blocked appenders", says why.
#pragma once

#include "core/membership.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace pysyncq::core {

/// Free bytes of a ring of `capacity` bytes whose slowest cursor is `head` (0 when the
/// cursors claim more than the capacity is used: a corrupt cursor never makes space).
constexpr std::uint64_t free_bytes(std::uint64_t capacity, std::uint64_t tail,
                                   std::uint64_t head) noexcept {
  const std::uint64_t used = tail - head;
  return used >= capacity ? 0 : capacity - used;
}

/// Under the lock: whether an append of `needed` bytes that holds `ticket` (0: none) may
/// go ahead, in the space that appends waiting since before it do not need.
/// O(1) unless some append waits (MemberTable::reserved_before).
inline bool has_room(const MemberTable &members, std::uint64_t capacity, std::uint64_t tail,
                     std::uint64_t head, std::uint64_t needed, std::uint64_t ticket) noexcept {
  return free_bytes(capacity, tail, head) >= needed + members.reserved_before(ticket);
}

/// Whether a member reading at `cursor` holds back space itself: it has unread messages
/// and no cursor is slower (`slowest`, the slowest cursor). Such a blocked appender
/// moves its unread messages into its backlog before it waits.
constexpr bool holds_back_space(std::uint64_t cursor, std::uint64_t tail,
                                std::uint64_t slowest) noexcept {
  return cursor != tail && slowest == cursor;
}

/// Under the lock, in a blocked append: reaps the dead members that hold back space and
/// returns how many. Those whose cursor is `head` (the slowest); every dead member when
/// a dead one holds a space ticket, which reserves space wherever its cursor is.
std::uint32_t reap_space_holders(const MemberTable &members, std::uint64_t head,
                                 const IsAlive &is_alive);

/// Under the lock: whether a blocked append should look for dead members now, `now_ns`
/// on the monotonic clock, at most once per `interval_ns` queue-wide (`last_check_ns` is
/// the header's last_reap_check_ns, which this updates when it says yes).
bool reap_due(std::atomic<std::uint64_t> &last_check_ns, std::uint64_t now_ns,
              std::uint64_t interval_ns) noexcept;

/// What a blocked appender (the member in slot `me`) finds about the holders.
struct HolderVerdict {
  /// The active slots whose cursor is the slowest one (empty when nothing is unread).
  std::vector<std::uint32_t> holders;
  /// `me` is a holder that can still move messages into its backlog: it must do that
  /// before it sleeps, or it would sleep on the space it waits for.
  bool me_can_move = false;
  /// Some other holder sleeps in a blocking append but can still move messages into its
  /// backlog: wake it, and it frees the space.
  bool wake_holders = false;
  /// Every holder is blocked appending with a full backlog (or is `me` with a full one):
  /// nobody can ever free this space.
  bool deadlock = false;
};

/// Under the lock. `head` is the slowest cursor, `tail` the tail.
/// A registration used by a second thread is never blocked (that thread may read).
HolderVerdict judge_holders(const MemberTable &members, std::uint64_t head, std::uint64_t tail,
                            std::uint32_t me, const IsAlive &is_alive);

} // namespace pysyncq::core
