#include "core/membership.hpp"

#include "core/wake_filter.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace pysyncq::core {

std::uint32_t MemberTable::scan_end() const noexcept {
  // Relaxed: only a bound for the scan; it only grows, and it grows under the lock that
  // every scanner holding the lock synchronises with.
  // Bounded by our copy of the limit: a header rewritten after attach cannot widen a scan.
  return std::min(header_->slots_in_use.load(std::memory_order_relaxed), max_members_);
}

std::optional<std::uint32_t> MemberTable::join(int pid, std::uint64_t start_time,
                                               std::string_view sender,
                                               std::uint64_t cursor) const noexcept {
  const std::uint32_t limit = max_members_;
  for (std::uint32_t index = 0; index < limit; ++index) {
    MemberSlot &candidate = slots_[index];
    // Relaxed: slot states change only under the lock, which we hold.
    if (candidate.state.load(std::memory_order_relaxed) != kSlotFree) {
      continue;
    }
    // Relaxed stores: published by the release store of `state` below.
    candidate.cursor.store(cursor, std::memory_order_relaxed);
    candidate.messages_read.store(0, std::memory_order_relaxed);
    candidate.waiting.store(0, std::memory_order_relaxed);
    candidate.waiting_since_ns.store(0, std::memory_order_relaxed);
    candidate.flags.store(0, std::memory_order_relaxed);
    candidate.backlog_messages.store(0, std::memory_order_relaxed);
    candidate.backlog_bytes.store(0, std::memory_order_relaxed);
    candidate.space_ticket.store(0, std::memory_order_relaxed);
    candidate.space_needed.store(0, std::memory_order_relaxed);
    candidate.backlog_full.store(0, std::memory_order_relaxed);
    clear_screens(candidate); // the last owner's screens are not ours
    // Atomic (relaxed): a waiter checks without the lock whether its slot is still its own
    // (Registration::still_ours), so this store may race with that load.
    std::atomic_ref<std::int32_t>(candidate.pid).store(pid, std::memory_order_relaxed);
    candidate.start_time = start_time;
    candidate.reserved1 = 0;
    std::memset(candidate.sender, 0, sizeof candidate.sender);
    std::memcpy(candidate.sender, sender.data(),
                std::min(sender.size(), sizeof candidate.sender - 1));
    // The scan bound grows before the slot turns active: a joiner killed in between
    // must leave an active slot that every scan (reaping, recount) can see, not one
    // past scan_end() that holds back nothing and is never reaped.
    if (header_->slots_in_use.load(std::memory_order_relaxed) < index + 1) {
      header_->slots_in_use.store(index + 1, std::memory_order_relaxed); // under the lock
    }
    // SYNC POINT: slot published (release; scanners acquire).
    candidate.state.store(kSlotActive, std::memory_order_release);
    header_->member_count.fetch_add(1, std::memory_order_relaxed); // under the lock
    return index;
  }
  return std::nullopt;
}

void MemberTable::leave(std::uint32_t index) const noexcept {
  MemberSlot &member = slots_[index];
  if (member.state.load(std::memory_order_relaxed) != kSlotActive) {
    return;
  }
  // Take back the sleeper counts this member may still hold (a thread of a closing
  // process can be asleep on its behalf; it will find the slot gone when it wakes).
  // One exchange: a sleeper's lock-free take-back (Sleepers::retract_message) then finds
  // its half at 0, so no unit is taken back twice.
  const std::uint32_t waiting = member.waiting.exchange(0, std::memory_order_relaxed);
  header_->message_sleepers.fetch_sub(message_sleepers_of(waiting), std::memory_order_relaxed);
  header_->space_sleepers.fetch_sub(space_sleepers_of(waiting), std::memory_order_relaxed);
  // And its ticket: a blocked append that is gone reserves nothing.
  if (member.space_ticket.exchange(0, std::memory_order_relaxed) != 0) {
    header_->ticketed_appenders.fetch_sub(1, std::memory_order_relaxed);
  }
  // Release: pairs with the acquire of scanners; after it the cursor no longer holds
  // back space.
  member.state.store(kSlotFree, std::memory_order_release);
  header_->member_count.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t MemberTable::slowest_cursor(std::uint64_t tail) const noexcept {
  const std::uint64_t capacity = capacity_bytes_;
  std::uint64_t slowest = tail;
  const std::uint32_t end = scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_acquire) != kSlotActive) {
      continue;
    }
    // SYNC POINT: consumed (acquire; pairs with the owner's seq_cst store after its copy).
    // seq_cst so that a space sleeper's re-check and a reader's store of its cursor
    // cannot both miss each other (Dekker with space_sleepers).
    const std::uint64_t cursor = member.cursor.load(std::memory_order_seq_cst);
    if (cursor > tail || tail - cursor > capacity) {
      continue; // corrupt: never let it make free space negative
    }
    slowest = std::min(slowest, cursor);
  }
  return slowest;
}

std::uint32_t MemberTable::reap_dead(const IsAlive &is_alive,
                                     std::optional<std::uint64_t> only_at_cursor) const {
  std::uint32_t reaped = 0;
  const std::uint32_t end = scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_relaxed) != kSlotActive) {
      continue;
    }
    if (only_at_cursor && member.cursor.load(std::memory_order_acquire) != *only_at_cursor) {
      continue;
    }
    if (is_alive(member.pid, member.start_time)) {
      continue;
    }
    leave(index);
    ++reaped;
  }
  if (reaped != 0) {
    header_->reaped_total.fetch_add(reaped, std::memory_order_relaxed);
  }
  return reaped;
}

void MemberTable::repair_after_crash() const noexcept {
  std::uint32_t space_sleepers = 0;
  std::uint32_t members = 0;
  std::uint32_t ticketed = 0;
  std::uint32_t bound = 0;
  // Every slot, not only those below scan_end(): a segment written by an older build
  // could hold an active slot past the bound (join used to publish it first).
  for (std::uint32_t index = 0; index < max_members_; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_relaxed) != kSlotActive) {
      continue;
    }
    ++members;
    bound = index + 1;
    const std::uint32_t waiting = member.waiting.load(std::memory_order_relaxed);
    space_sleepers += space_sleepers_of(waiting);
    ticketed += member.space_ticket.load(std::memory_order_relaxed) != 0 ? 1 : 0;
  }
  // Relaxed stores: under the lock, which every reader of these counts holds or
  // tolerates seeing late (see scan_end()).
  if (header_->slots_in_use.load(std::memory_order_relaxed) < bound) {
    header_->slots_in_use.store(bound, std::memory_order_relaxed);
  }
  // Not message_sleepers: sleepers change it without the lock, so a recount here could
  // race with them and leave it too low (even wrapped); it is only the spin rule's hint,
  // kept at or above the slots' sum (Sleepers::announce_message).
  header_->space_sleepers.store(space_sleepers, std::memory_order_relaxed);
  // A ticket and its count change in two steps too (take_ticket, return_ticket).
  header_->ticketed_appenders.store(ticketed, std::memory_order_relaxed);
  // join() and leave() change the slot state and the member count in two steps; a holder
  // killed between them leaves the count off by one, and the last close would then never
  // remove the name (or remove it under a live member).
  header_->member_count.store(members, std::memory_order_relaxed);
}

std::vector<std::uint32_t> MemberTable::members_at(std::uint64_t position) const {
  std::vector<std::uint32_t> result;
  const std::uint32_t end = scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_acquire) == kSlotActive &&
        member.cursor.load(std::memory_order_acquire) == position) {
      result.push_back(index);
    }
  }
  return result;
}

// Tickets are changed only under the lock, so every load and store here is relaxed: the
// lock orders them (and repair_after_crash() recounts what a dead holder left halfway).

std::uint64_t MemberTable::take_ticket(std::uint32_t index, std::uint64_t needed) const noexcept {
  MemberSlot &member = slots_[index];
  if (member.space_ticket.load(std::memory_order_relaxed) != 0) {
    return 0; // another thread of this registration waits with it
  }
  const std::uint64_t ticket = header_->last_space_ticket.load(std::memory_order_relaxed) + 1;
  header_->last_space_ticket.store(ticket, std::memory_order_relaxed);
  member.space_needed.store(needed, std::memory_order_relaxed);
  member.space_ticket.store(ticket, std::memory_order_relaxed);
  header_->ticketed_appenders.fetch_add(1, std::memory_order_relaxed);
  return ticket;
}

void MemberTable::return_ticket(std::uint32_t index, std::uint64_t ticket) const noexcept {
  MemberSlot &member = slots_[index];
  if (ticket == 0 || member.state.load(std::memory_order_relaxed) != kSlotActive ||
      member.space_ticket.load(std::memory_order_relaxed) != ticket) {
    return; // never held, or taken back already by a close or a reap
  }
  member.space_ticket.store(0, std::memory_order_relaxed);
  header_->ticketed_appenders.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t MemberTable::reserved_before(std::uint64_t ticket) const noexcept {
  if (header_->ticketed_appenders.load(std::memory_order_relaxed) == 0) {
    return 0;
  }
  const std::uint64_t capacity = capacity_bytes_;
  std::uint64_t reserved = 0;
  const std::uint32_t end = scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_relaxed) != kSlotActive) {
      continue;
    }
    const std::uint64_t theirs = member.space_ticket.load(std::memory_order_relaxed);
    if (theirs == 0 || (ticket != 0 && theirs >= ticket)) {
      continue;
    }
    // Never above the capacity, even from a corrupt slot: the sum stays far from overflow.
    reserved += std::min(member.space_needed.load(std::memory_order_relaxed), capacity);
  }
  return reserved;
}

bool MemberTable::has_dead_ticket_holder(const IsAlive &is_alive) const {
  if (header_->ticketed_appenders.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  const std::uint32_t end = scan_end();
  for (std::uint32_t index = 0; index < end; ++index) {
    const MemberSlot &member = slots_[index];
    if (member.state.load(std::memory_order_relaxed) == kSlotActive &&
        member.space_ticket.load(std::memory_order_relaxed) != 0 &&
        !is_alive(member.pid, member.start_time)) {
      return true;
    }
  }
  return false;
}

} // namespace pysyncq::core
