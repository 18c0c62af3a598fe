// A blocked appender's backlog (shm/backlog.hpp), and ShmQueue's move into it.
#include "shm/backlog.hpp"

#include "core/record.hpp"
#include "platform/crash_point.hpp"
#include "shm/shm_queue.hpp"

namespace pysyncq::shm {

void Backlog::publish(core::MemberSlot &slot, bool full) const noexcept {
  // Relaxed: stats, and (backlog_full) a verdict that reads it after our next locked
  // look (see layout.hpp).
  slot.backlog_messages.store(messages_.size(), std::memory_order_relaxed);
  slot.backlog_bytes.store(bytes_, std::memory_order_relaxed);
  slot.backlog_full.store(full ? 1U : 0U, std::memory_order_relaxed);
}

void Backlog::drop_oldest(core::MemberSlot &slot) {
  const Message &oldest = messages_.front();
  bytes_ -= core::record_bytes(oldest.sender.size(), oldest.type.size(), oldest.body.size());
  messages_.pop_front();
  // Stats and the deadlock verdict (see layout.hpp); room again in the backlog.
  publish(slot, /*full=*/false);
  // Stats only, written only by the owning handle under its local mutex (as
  // ShmQueue::release_space): a relaxed load and store, no locked add.
  slot.messages_read.store(slot.messages_read.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
}

Backlog::Moved Backlog::move_from_ring(const core::Ring &ring, std::uint64_t position,
                                       std::uint64_t tail, std::uint64_t capacity_bytes,
                                       core::MemberSlot &slot, const Screened &screened,
                                       std::string &scratch, const std::string &queue_name) {
  Moved moved;
  bool full = false;
  while (position != tail) {
    if (tail < position) {
      throw NotAQueue("corrupt queue '" + queue_name + "': read position " +
                      std::to_string(position) + " is past the tail " + std::to_string(tail));
    }
    const core::RecordExtent extent = core::read_record_header(ring, position, tail - position);
    const core::FieldPositions fields = core::field_positions(position, extent.header);
    Message message;
    message.sender.assign(ring.view(fields.sender, extent.header.sender_bytes, scratch));
    message.type.assign(ring.view(fields.type, extent.header.type_bytes, scratch));
    if (!screened(message.sender, message.type)) {
      if (bytes_ + extent.total_bytes > capacity_bytes) {
        full = true;
        break;
      }
      message.body.assign(ring.view(fields.body, extent.header.body_bytes, scratch));
      messages_.push_back(std::move(message));
      bytes_ += extent.total_bytes;
    } else {
      ++moved.screened_out;
    }
    position += extent.total_bytes;
    ++moved.messages;
  }
  moved.next = position;
  publish(slot, full);
  return moved;
}

// Without the queue lock, as a pop: if our cursor is the slowest one, copies our unread
// messages out of the ring into the backlog (screened ones are skipped, as pop skips
// them), up to the backlog's bound of capacity() bytes, and moves the cursor past them.
// Sets backlog_full when the bound stopped it with a message still unread in the ring.
void ShmQueue::move_to_backlog_if_holding(const Registration &me) {
  std::lock_guard local(local_mutex());
  if (!is_open_here() || registration_.slot != me.slot || !me.still_ours()) {
    return; // the locked look that follows reports it
  }
  core::MemberSlot &slot = *me.slot;
  // Relaxed: only this handle writes its cursor, under local_mutex_.
  const std::uint64_t position = slot.cursor.load(std::memory_order_relaxed);
  // SYNC POINT: publish (acquire; pairs with the appender's store of tail).
  const std::uint64_t tail = header().tail.load(std::memory_order_acquire);
  if (!core::holds_back_space(position, tail, segment_.members.slowest_cursor(tail))) {
    return; // nothing unread, or someone else holds the space back
  }
  const Backlog::Moved moved = backlog_.move_from_ring(
      segment_.ring, position, tail, capacity(), slot,
      [this](std::string_view sender, std::string_view type) { return screened(sender, type); },
      scratch_, segment_.name);
  if (moved.messages != 0) {
    PYSYNCQ_CRASH_POINT("backlog.before_advance"); // copied, cursor not yet moved
    release_space(moved.next, moved.screened_out);
  }
}

} // namespace pysyncq::shm
