// ShmQueue::stats(): what syncq ls and stat show, taken under the inspect lock.
#include "core/record.hpp"
#include "platform/clock.hpp"
#include "shm/shm_queue.hpp"

#include <algorithm>
#include <cstring>

namespace pysyncq::shm {

namespace {
// The most records stats() walks to count the queued messages. The walk runs under the
// queue lock, so this bounds how long a look at a huge or corrupt queue stalls its
// appenders; ten million is more than any queue of a few hundred MiB holds, so the
// count is exact for every queue seen in practice (a larger one reports at most this).
constexpr std::size_t kMaxStatsWalk = 10'000'000;
} // namespace

Stats ShmQueue::stats() const {
  Stats stats;
  stats.name = segment_.name;
  stats.capacity_bytes = capacity();
  stats.max_members = max_members();
  stats.segment_bytes = segment_.geometry.segment_bytes; // our copy: the header may lie
  struct Seen {
    MemberStats member;
    std::uint64_t cursor;
    std::uint64_t start_time;
  };
  std::vector<Seen> seen;
  std::vector<std::uint64_t> record_positions;
  std::uint64_t tail = 0;
  with_inspect_lock([&] {
    tail = header().tail.load(std::memory_order_relaxed);
    const std::uint64_t head = refresh_head(tail);
    stats.used_bytes = tail - head;
    stats.reaped_total = header().reaped_total.load(std::memory_order_relaxed);
    stats.lock_recoveries = header().lock_recoveries.load(std::memory_order_relaxed);
    stats.unlinked = header().unlinked.load(std::memory_order_relaxed) != 0;
    const std::uint64_t now = platform::monotonic_ns();
    for (std::uint32_t index = 0; index < segment_.members.scan_end(); ++index) {
      const core::MemberSlot &slot = segment_.members.slot(index);
      if (slot.state.load(std::memory_order_acquire) != core::kSlotActive) {
        continue;
      }
      Seen entry{};
      entry.member.slot = index;
      entry.member.pid = slot.pid;
      entry.member.sender.assign(slot.sender, strnlen(slot.sender, sizeof slot.sender));
      // SYNC POINT: backlog published (acquire; the owner stores its backlog counts
      // before its cursor): messages that left the ring for the backlog are counted.
      entry.cursor = slot.cursor.load(std::memory_order_acquire);
      entry.start_time = slot.start_time;
      entry.member.unread_bytes = tail >= entry.cursor ? tail - entry.cursor : 0;
      // Relaxed: stats; the owner stores them as it moves and pops (stale on return).
      entry.member.backlog_messages = slot.backlog_messages.load(std::memory_order_relaxed);
      entry.member.backlog_bytes = slot.backlog_bytes.load(std::memory_order_relaxed);
      entry.member.unread_bytes += entry.member.backlog_bytes;
      const std::uint32_t waiting = slot.waiting.load(std::memory_order_relaxed);
      if (waiting != 0) {
        entry.member.waiting = core::space_sleepers_of(waiting) != 0
                                   ? MemberStats::Waiting::kForSpace
                                   : MemberStats::Waiting::kForMessage;
        const std::uint64_t since = slot.waiting_since_ns.load(std::memory_order_relaxed);
        entry.member.waiting_for = std::chrono::nanoseconds(now > since ? now - since : 0);
      }
      seen.push_back(entry);
    }
    // Under the lock no appender overwrites [head, tail): walk it to count messages.
    std::uint64_t position = head;
    while (position < tail && record_positions.size() < kMaxStatsWalk) {
      record_positions.push_back(position);
      position += core::read_record_header(segment_.ring, position, tail - position).total_bytes;
    }
  });
  stats.queued_messages = record_positions.size();
  stats.members = static_cast<std::uint32_t>(seen.size());
  for (Seen &entry : seen) {
    entry.member.alive = alive(entry.member.pid, entry.start_time); // outside the lock
    stats.dead_members += entry.member.alive ? 0 : 1;
    entry.member.unread_messages =
        static_cast<std::uint64_t>(
            record_positions.end() -
            std::lower_bound(record_positions.begin(), record_positions.end(), entry.cursor)) +
        entry.member.backlog_messages;
    stats.member_list.push_back(std::move(entry.member));
  }
  return stats;
}

} // namespace pysyncq::shm
