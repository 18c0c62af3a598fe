// A registration's backlog: unread messages that it moved out of the ring into its own
// memory, either while blocked appending (so that it never sleeps on space that it holds
// back itself) or as a pop's read-ahead (so that the next pops skip the ring). Every read
// serves it first (docs/design.md, "Blocked appenders" and "Read-ahead").
#pragma once

#include "core/layout.hpp"
#include "core/record.hpp"
#include "core/ring.hpp"
#include "pysyncq/queue.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace pysyncq::shm {

// Messages one registration moved out of the ring, oldest first, kept as the ring lays
// them out (records one after another, never wrapping), so that a pop serves one in
// place, without an allocation per message. Private memory: a fork or another process
// never sees it. Bounded by the queue's capacity in record footprints. The owner's
// handle mutex guards every call; each change is published to the member slot
// (backlog_messages, backlog_bytes, backlog_full), which stats, waits for a message and
// the deadlock verdict read.
class Backlog {
public:
  using Screened = std::function<bool(std::string_view sender, std::string_view type)>;

  bool empty() const noexcept { return messages_ == 0; }
  // The oldest message, in the backlog's memory: valid until the next call that changes
  // the backlog. Only when not empty.
  const MessageView &oldest() const noexcept { return oldest_.view; }

  // Forgets every message (a close, or a forked child that opens anew).
  void clear() noexcept;

  // The oldest message is read (or screened): drops it and counts it read in `slot`.
  void drop_oldest(core::MemberSlot &slot);

  struct Moved {
    std::uint64_t next = 0;         // the cursor after the moved messages
    std::uint64_t messages = 0;     // moved or screened out
    std::uint64_t screened_out = 0; // of those, skipped by the screens: count as read
  };
  // A blocked appender's move. First drops the read-ahead messages that the screens
  // screen now (counted read), as this move would skip them in the ring; then copies the
  // records in [position, tail) of `ring` (screened ones are skipped, as pop skips them)
  // until the bound `capacity_bytes` stops it, and publishes the counts to `slot`,
  // backlog_full when the bound stopped it with a message still unread. The caller
  // advances the cursor to the returned `next`. Throws NotAQueue for a record that
  // runs past the tail (`queue_name` names the queue). `scratch` backs a sender or type
  // that wraps around the ring's end while the screens look at it.
  Moved move_from_ring(const core::Ring &ring, std::uint64_t position, std::uint64_t tail,
                       std::uint64_t capacity_bytes, core::MemberSlot &slot,
                       const Screened &screened, std::string &scratch,
                       const std::string &queue_name);
  // How much a read-ahead may copy: messages, their record footprints together, and
  // the footprint of each (it stops before the first larger one).
  struct Limits {
    std::size_t messages;
    std::uint64_t bytes;
    std::uint64_t record_bytes;
  };
  // A pop's read-ahead, into an empty backlog: copies the records of [position, tail)
  // of `ring` that `limits` allow, in order, and publishes the counts to `slot`. None is
  // screened now: pops screen them when they serve them, so a screen removed meanwhile
  // still shows them. Never sets backlog_full: it moves only what the next pops would
  // read, at most what the ring held (so within the capacity). The caller advances the
  // cursor to `next`; `screened_out` is 0. Never throws: a record it cannot copy
  // (corrupt, or no memory) ends it and stays in the ring, where the next pop meets it
  // and reports it.
  Moved read_ahead(const core::Ring &ring, std::uint64_t position, std::uint64_t tail,
                   const Limits &limits, core::MemberSlot &slot, std::string &scratch) noexcept;

private:
  // A record of the store, as push_record wrote it (its header checked then).
  struct Held {
    MessageView view;
    std::size_t total_bytes;
  };
  Held held_at(std::size_t offset) const noexcept {
    core::RecordHeader header{};
    std::memcpy(&header, records_.data() + offset, sizeof header);
    const char *sender = records_.data() + offset + sizeof header;
    const char *type = sender + header.sender_bytes;
    const char *body = type + header.type_bytes;
    return {MessageView{{sender, header.sender_bytes},
                        {type, header.type_bytes},
                        {body, static_cast<std::size_t>(header.body_bytes)}},
            static_cast<std::size_t>(
                core::record_bytes(header.sender_bytes, header.type_bytes, header.body_bytes))};
  }

  // After every change: finds the oldest record again (its view is read by every pop,
  // kept here rather than made on the pop's stack each time).
  void find_oldest() noexcept {
    if (messages_ != 0) {
      oldest_ = held_at(front_);
    }
  }
  void publish(core::MemberSlot &slot, bool full) const noexcept;
  // Appends the record at `position` of `ring`, whose header `extent` was read and
  // checked: that header is written, not the ring's bytes again (never trust shared
  // memory twice: a writer could change them between the two reads). All or nothing;
  // `scratch` backs the rest of the record when it wraps around the ring's end.
  void push_record(const core::Ring &ring, std::uint64_t position, const core::RecordExtent &extent,
                   std::string &scratch);
  // Drops the read-ahead messages that `screened` screens now, counting them read in
  // `slot`; the rest count as screened when they moved from then on.
  void drop_screened_read_ahead(core::MemberSlot &slot, const Screened &screened);

  std::string records_;        // bytes before front_ are read; records from there on
  std::size_t front_ = 0;      // where the oldest record starts
  std::uint64_t messages_ = 0; // records from front_ on
  Held oldest_{};              // the record at front_, while messages_ != 0
  // True while every message held was read ahead (a read-ahead fills an empty backlog,
  // and a blocked appender's move screens them before it adds its own): none screened.
  bool read_ahead_ = false;
};

} // namespace pysyncq::shm
