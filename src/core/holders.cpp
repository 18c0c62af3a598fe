#include "core/holders.hpp"

namespace pysyncq::core {

HolderVerdict judge_holders(const MemberTable &members, std::uint64_t head, std::uint64_t tail,
                            std::uint32_t me, const IsAlive &is_alive) {
  HolderVerdict verdict;
  if (head == tail) {
    return verdict; // nothing unread: space is held by nobody
  }
  verdict.holders = members.members_at(head);
  bool all_blocked = !verdict.holders.empty();
  for (const std::uint32_t index : verdict.holders) {
    const MemberSlot &holder = members.slot(index);
    // Relaxed loads, all under the lock: waiting changes under it; flags only gains its
    // bit (a stale zero is covered by the holder's own later check); backlog_full is
    // stored by its owner before the owner's locked look that counted it asleep.
    const bool full = holder.backlog_full.load(std::memory_order_relaxed) != 0;
    const bool shared = (holder.flags.load(std::memory_order_relaxed) & kSlotSharedByThreads) != 0;
    if (index == me) {
      verdict.me_can_move = !full;
      all_blocked = all_blocked && full && !shared;
      continue;
    }
    // A sleeper that died in its sleep keeps its count until it is reaped: it is not
    // blocked, it is gone, and reaping it (at the next look) frees the space.
    const bool asleep_for_space =
        space_sleepers_of(holder.waiting.load(std::memory_order_relaxed)) != 0 &&
        is_alive(holder.pid, holder.start_time);
    if (asleep_for_space && !full) {
      verdict.wake_holders = true;
    }
    all_blocked = all_blocked && asleep_for_space && full && !shared;
  }
  verdict.deadlock = all_blocked;
  return verdict;
}

std::uint32_t reap_space_holders(const MemberTable &members, std::uint64_t head,
                                 const IsAlive &is_alive) {
  // A dead ticket holder reserves space wherever its cursor is: look at everyone.
  const bool everyone = members.has_dead_ticket_holder(is_alive);
  return members.reap_dead(is_alive, everyone ? std::nullopt : std::optional<std::uint64_t>(head));
}

bool reap_due(std::atomic<std::uint64_t> &last_check_ns, std::uint64_t now_ns,
              std::uint64_t interval_ns) noexcept {
  // Relaxed: under the lock; only a rate limit.
  const std::uint64_t last = last_check_ns.load(std::memory_order_relaxed);
  if (now_ns - last < interval_ns) {
    return false;
  }
  last_check_ns.store(now_ns, std::memory_order_relaxed);
  return true;
}

} // namespace pysyncq::core
