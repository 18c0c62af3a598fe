// A registration's backlog (shm/backlog.hpp), and ShmQueue's move into it.
#include "shm/backlog.hpp"

#include "platform/crash_point.hpp"
#include "shm/shm_queue.hpp"

namespace pysyncq::shm {

namespace {

// A store this large is given back to the heap when it empties (a blocked appender's
// backlog may have grown to the capacity); a smaller one, as a pop's read-ahead of at
// most 4 KiB (append_pop.cpp) leaves, is kept for the next one.
constexpr std::size_t kKeptStoreBytes = std::size_t{64} * 1024;

} // namespace

void Backlog::clear() noexcept {
  std::string().swap(records_); // a close or a fork: its memory too
  front_ = 0;
  messages_ = 0;
  read_ahead_ = false;
}

void Backlog::publish(core::MemberSlot &slot, bool full) const noexcept {
  // Relaxed. A pop or move stores these before its cursor store (seq_cst, so a release):
  // SYNC POINT backlog published, for whoever acquire-loads the cursor and sees it moved
  // (stats, a wait for a message in another thread of this handle). A verdict reads
  // backlog_full after our next locked look (see layout.hpp).
  slot.backlog_messages.store(messages_, std::memory_order_relaxed);
  slot.backlog_bytes.store(records_.size() - front_, std::memory_order_relaxed);
  slot.backlog_full.store(full ? 1U : 0U, std::memory_order_relaxed);
}

void Backlog::drop_oldest(core::MemberSlot &slot) {
  front_ += oldest_.total_bytes;
  if (--messages_ == 0) {
    if (records_.capacity() > kKeptStoreBytes) {
      std::string().swap(records_);
    } else {
      records_.clear();
    }
    front_ = 0;
    read_ahead_ = false;
  }
  find_oldest();
  // Stats and the deadlock verdict (see layout.hpp); room again in the backlog.
  publish(slot, /*full=*/false);
  // Stats only, written only by the owning handle under its local mutex (as
  // ShmQueue::release_space): a relaxed load and store, no locked add.
  slot.messages_read.store(slot.messages_read.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
}

void Backlog::push_record(const core::Ring &ring, std::uint64_t position,
                          const core::RecordExtent &extent, std::string &scratch) {
  constexpr std::size_t kHeader = sizeof extent.header;
  const std::string_view rest =
      ring.view(position + kHeader, extent.total_bytes - kHeader, scratch);
  const std::size_t at = records_.size();
  try {
    records_.append(reinterpret_cast<const char *>(&extent.header), kHeader);
    records_.append(rest);
  } catch (...) {
    records_.resize(at); // all or nothing
    throw;
  }
}

void Backlog::drop_screened_read_ahead(core::MemberSlot &slot, const Screened &screened) {
  if (!read_ahead_) {
    return;
  }
  read_ahead_ = false;
  std::size_t kept_end = front_;
  std::uint64_t dropped = 0;
  for (std::size_t offset = front_; offset < records_.size();) {
    const Held held = held_at(offset);
    if (screened(held.view.sender, held.view.type)) {
      ++dropped;
    } else {
      if (kept_end != offset) {
        std::memmove(records_.data() + kept_end, records_.data() + offset, held.total_bytes);
      }
      kept_end += held.total_bytes;
    }
    offset += held.total_bytes;
  }
  if (dropped == 0) {
    return;
  }
  records_.resize(kept_end);
  messages_ -= dropped;
  find_oldest();
  // Published by the move that follows; counted as drop_oldest counts (stats only).
  slot.messages_read.store(slot.messages_read.load(std::memory_order_relaxed) + dropped,
                           std::memory_order_relaxed);
}

Backlog::Moved Backlog::move_from_ring(const core::Ring &ring, std::uint64_t position,
                                       std::uint64_t tail, std::uint64_t capacity_bytes,
                                       core::MemberSlot &slot, const Screened &screened,
                                       std::string &scratch, const std::string &queue_name) {
  // The screens of this moment decide for the read-ahead messages too: without the
  // read-ahead, this move would skip them in the ring. So screened messages never take
  // the bound's room, and backlog_full means what it meant without read-ahead.
  drop_screened_read_ahead(slot, screened);
  if (front_ != 0) { // drop what pops read: moves down at most the bytes still held
    records_.erase(0, front_);
    front_ = 0;
  }
  // All or nothing: after a throw (a corrupt record, no memory) the caller leaves the
  // cursor where it was, so the store is left as it was too.
  const std::size_t store_before = records_.size();
  const std::uint64_t messages_before = messages_;
  Moved moved;
  bool full = false;
  try {
    while (position != tail) {
      if (tail < position) {
        throw NotAQueue("corrupt queue '" + queue_name + "': read position " +
                        std::to_string(position) + " is past the tail " + std::to_string(tail));
      }
      const core::RecordExtent extent = core::read_record_header(ring, position, tail - position);
      const core::FieldPositions fields = core::field_positions(position, extent.header);
      if (!screened(ring.view(fields.sender, extent.header.sender_bytes, scratch),
                    ring.view(fields.type, extent.header.type_bytes, scratch))) {
        if (records_.size() + extent.total_bytes > capacity_bytes) {
          full = true;
          break;
        }
        push_record(ring, position, extent, scratch);
        ++messages_;
      } else {
        ++moved.screened_out;
      }
      position += extent.total_bytes;
      ++moved.messages;
    }
  } catch (...) {
    records_.resize(store_before);
    messages_ = messages_before;
    find_oldest();
    throw;
  }
  find_oldest();
  moved.next = position;
  publish(slot, full);
  return moved;
}

Backlog::Moved Backlog::read_ahead(const core::Ring &ring, std::uint64_t position,
                                   std::uint64_t tail, const Limits &limits, core::MemberSlot &slot,
                                   std::string &scratch) noexcept {
  Moved moved;
  // `position < tail`: a cursor past the tail is corrupt, and so is a record that runs
  // past it (read_record_header throws); the next pop meets either in the ring.
  while (position < tail && moved.messages < limits.messages) {
    try {
      const core::RecordExtent extent = core::read_record_header(ring, position, tail - position);
      if (extent.total_bytes > limits.record_bytes ||
          records_.size() + extent.total_bytes > limits.bytes) {
        break;
      }
      push_record(ring, position, extent, scratch); // all or nothing
      position += extent.total_bytes;
      ++moved.messages;
    } catch (...) { // NOLINT(bugprone-empty-catch): a read-ahead only saves later pops
                    // work; what stops it stays in the ring for the next pop to report
      break;
    }
  }
  moved.next = position;
  if (moved.messages != 0) {
    messages_ += moved.messages;
    read_ahead_ = true;
    find_oldest();
    publish(slot, /*full=*/false);
  }
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
