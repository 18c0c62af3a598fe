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
    const bool shared =
        (holder.flags.load(std::memory_order_relaxed) & kSlotSharedByThreads) != 0;
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

} // namespace pysyncq::core
