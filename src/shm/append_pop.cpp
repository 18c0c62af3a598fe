// ShmQueue: the non-blocking append and pop, the hot path (src/shm/shm_queue.hpp).
// Neither makes a syscall unless someone sleeps; docs/design.md, "Memory ordering: the
// sync points", pairs each release here with its acquire.
#include "core/record.hpp"
#include "platform/crash_point.hpp"
#include "shm/shm_queue.hpp"

namespace pysyncq::shm {

namespace {
// What a pop's read-ahead copies at most: 4 KiB of records, none over 512 bytes. A
// message read ahead is copied twice (out of the ring, then out of the backlog), which
// costs about what it saves on a small message and more on a larger one (a 1 KiB body
// read ahead made an iteration step 40 ns slower, docs/design.md "Read-ahead"). What it
// buys is one cursor store, and at most one wake of a blocked appender, for them all.
constexpr std::uint64_t kReadAheadBytes = 4096;
constexpr std::uint64_t kReadAheadRecordBytes = 512;
} // namespace

std::uint64_t ShmQueue::footprint_checked(std::string_view type, std::string_view body) const {
  if (type.size() > core::kMaxFieldBytes) {
    throw InvalidArgument("message type of " + std::to_string(type.size()) +
                          " bytes is too long; at most " + std::to_string(core::kMaxFieldBytes));
  }
  return footprint(type, body);
}

std::uint64_t ShmQueue::footprint(std::string_view type, std::string_view body) const {
  return core::record_bytes(sender_here().size(), type.size(), body.size());
}

std::uint64_t ShmQueue::footprint_checked(std::span<const OutgoingMessage> batch) const {
  std::uint64_t needed = 0;
  for (const OutgoingMessage &message : batch) {
    needed += footprint_checked(message.type, message.body); // far from overflow: 2^32 each
  }
  return needed;
}

// Appends the batch if it fits in the space that appends waiting since before `ticket`
// do not need (kNoTicket: before every ticket). A ticket that is used is given back.
// One lock round, one publish and at most one wake for the whole batch.
bool ShmQueue::try_append_as(std::span<const OutgoingMessage> batch, std::uint64_t needed,
                             std::uint64_t ticket) {
  std::lock_guard local(local_mutex());
  require_open();
  bool appended = false;
  with_lock([&] {
    // Relaxed: tail and the cached head change only under the lock we hold.
    const std::uint64_t tail = header().tail.load(std::memory_order_relaxed);
    std::uint64_t head = header().head.load(std::memory_order_relaxed);
    // O(1) unless some append waits (MemberTable::reserved_before).
    const std::uint64_t wanted = needed + segment_.members.reserved_before(ticket);
    if (free_bytes(tail, head) < wanted) {
      head = refresh_head(tail);
      if (free_bytes(tail, head) < wanted) {
        return;
      }
    }
    PYSYNCQ_CRASH_POINT("append.before_copy");
    std::uint64_t position = tail;
    for (const OutgoingMessage &message : batch) {
      core::write_record(segment_.ring, position, sender_here(), message.type, message.body);
      position += core::record_bytes(sender_here().size(), message.type.size(), message.body.size());
    }
    PYSYNCQ_CRASH_POINT("append.after_copy");
    // SYNC POINT: publish (seq_cst store; readers acquire-load tail). One store for the
    // whole batch: readers see all of it or none. seq_cst also orders it before the load
    // of message_wake_wanted in wake_message_sleepers() (Dekker with a reader's
    // announce_message() and re-check of tail, neither under the lock).
    header().tail.store(tail + needed, std::memory_order_seq_cst);
    PYSYNCQ_CRASH_POINT("append.after_publish");
    segment_.members.return_ticket(registration_.index, ticket);
    appended = true;
  });
  if (appended) {
    PYSYNCQ_CRASH_POINT("append.before_wake"); // published and unlocked, nobody woken yet
    sleepers_.wake_message_sleepers(sender_here(), batch);
  }
  return appended;
}

std::size_t ShmQueue::pop_visit(std::size_t max_messages,
                                const std::function<void(const MessageView &)> &visit,
                                std::size_t read_ahead) {
  std::lock_guard local(local_mutex());
  require_open();
  // The backlog holds what this registration moved out of the ring (blocked appending,
  // or read ahead): it comes before everything still in the ring.
  std::size_t popped = 0;
  while (popped < max_messages && !backlog_.empty()) {
    // The screens of now apply: read-ahead messages were not screened when they moved,
    // a blocked appender's were, by the screens of then. A visit that throws leaves it.
    const MessageView &oldest = backlog_.oldest();
    if (!screened(oldest.sender, oldest.type)) {
      visit(oldest);
      ++popped;
    }
    backlog_.drop_oldest(*registration_.slot);
  }
  if (popped == max_messages) {
    return popped;
  }
  return popped + pop_from_ring(max_messages - popped, visit, read_ahead);
}

// With local_mutex_ held and the backlog empty.
std::size_t ShmQueue::pop_from_ring(std::size_t max_messages,
                                    const std::function<void(const MessageView &)> &visit,
                                    std::size_t read_ahead) {
  std::size_t popped = 0;
  // Relaxed: only this handle writes its cursor, under local_mutex_.
  std::uint64_t position = registration_.slot->cursor.load(std::memory_order_relaxed);
  // SYNC POINT: publish (acquire; pairs with the appender's store of tail).
  const std::uint64_t tail = header().tail.load(std::memory_order_acquire);
  std::uint64_t read = 0; // ring messages passed: visited or screened
  // The bytes below `tail` and from our cursor on stay put until we store the cursor:
  // no appender writes below the slowest cursor, and ours is part of that minimum. So a
  // batch visits in place and stores the cursor once, at the end or before a throw.
  try {
    while (popped < max_messages && position != tail) {
      if (tail < position) {
        throw NotAQueue("corrupt queue '" + segment_.name + "': read position " +
                        std::to_string(position) + " is past the tail " + std::to_string(tail));
      }
      const core::RecordExtent extent =
          core::read_record_header(segment_.ring, position, tail - position);
      const core::FieldPositions fields = core::field_positions(position, extent.header);
      MessageView view;
      view.sender = segment_.ring.view(fields.sender, extent.header.sender_bytes, scratch_);
      view.type = segment_.ring.view(fields.type, extent.header.type_bytes, scratch_);
      if (!screened(view.sender, view.type)) {
        view.body = segment_.ring.view(fields.body, extent.header.body_bytes, scratch_);
        visit(view); // may throw: then this message stays unread
        ++popped;
      }
      position += extent.total_bytes;
      ++read;
    }
  } catch (...) {
    if (read != 0) {
      release_space(position, read); // what was visited before the throw is read
    }
    throw;
  }
  if (read_ahead != 0 && popped != 0) {
    // Moved, not read: the backlog counts them read as it serves them. Published before
    // the cursor store below, which frees their space with the pop's own.
    const Backlog::Limits limits{read_ahead, kReadAheadBytes, kReadAheadRecordBytes};
    position =
        backlog_.read_ahead(segment_.ring, position, tail, limits, *registration_.slot, scratch_)
            .next;
  }
  if (read != 0) {
    PYSYNCQ_CRASH_POINT("pop.before_advance");
    release_space(position, read);
  }
  return popped;
}

// After a pop: moves our cursor to `next` and wakes appenders waiting for space.
void ShmQueue::release_space(std::uint64_t next, std::uint64_t messages) {
  core::MemberSlot &slot = *registration_.slot;
  // Stats only, and written only by this handle under local_mutex_ (a pop, a move into
  // the backlog): a relaxed load and store, not a locked add on every pop.
  slot.messages_read.store(slot.messages_read.load(std::memory_order_relaxed) + messages,
                           std::memory_order_relaxed);
  // SYNC POINT: consumed (seq_cst store; appenders acquire-load cursors). seq_cst
  // orders it before our load of space_sleepers (Dekker with Sleepers::announce()).
  slot.cursor.store(next, std::memory_order_seq_cst);
  sleepers_.wake_space_sleepers();
}

} // namespace pysyncq::shm
