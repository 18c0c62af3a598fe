// A blocked appender's backlog: the unread messages it moved out of the ring so that it
// never sleeps on space that it holds back itself (docs/design.md, "Blocked appenders").
#pragma once

#include "core/layout.hpp"
#include "core/ring.hpp"
#include "pysyncq/queue.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace pysyncq::shm {

// Messages one registration moved out of the ring while blocked appending, oldest first.
// Private memory: a fork or another process never sees it. Bounded by the queue's
// capacity in record footprints. The owner's handle mutex guards every call; each change
// is published to the member slot (backlog_messages, backlog_bytes, backlog_full), which
// stats and the deadlock verdict read.
class Backlog {
public:
  using Screened = std::function<bool(std::string_view sender, std::string_view type)>;

  bool empty() const noexcept { return messages_.empty(); }
  const Message &oldest() const noexcept { return messages_.front(); }

  // Forgets every message (a close, or a forked child that opens anew).
  void clear() noexcept {
    messages_.clear();
    bytes_ = 0;
  }

  // The oldest message is read (or screened): drops it and counts it read in `slot`.
  void drop_oldest(core::MemberSlot &slot);

  struct Moved {
    std::uint64_t next = 0;         // the cursor after the moved messages
    std::uint64_t messages = 0;     // moved or screened out
    std::uint64_t screened_out = 0; // of those, skipped by the screens: count as read
  };
  // Copies the records in [position, tail) of `ring` (screened ones are skipped, as pop
  // skips them) until the bound `capacity_bytes` stops it, and publishes the counts to
  // `slot`, backlog_full when the bound stopped it with a message still unread. The
  // caller advances the cursor to the returned `next`. Throws NotAQueue for a record that
  // runs past the tail (`queue_name` names the queue).
  Moved move_from_ring(const core::Ring &ring, std::uint64_t position, std::uint64_t tail,
                       std::uint64_t capacity_bytes, core::MemberSlot &slot,
                       const Screened &screened, std::string &scratch,
                       const std::string &queue_name);

private:
  void publish(core::MemberSlot &slot, bool full) const noexcept;

  std::deque<Message> messages_;
  std::uint64_t bytes_ = 0; // their record footprints; at most the capacity
};

} // namespace pysyncq::shm
