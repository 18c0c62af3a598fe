// ShmQueue: the blocking calls. A blocking append with its place in line (a space
// ticket), waits for space and for a message, and the errors that end them
// (src/shm/shm_queue.hpp). Sleeping and waking itself is in sleepers.hpp; who holds back
// space and whether that is a deadlock is decided by core/holders.hpp.
#include "platform/clock.hpp"
#include "platform/crash_point.hpp"
#include "shm/shm_queue.hpp"

#include <cstring>

namespace pysyncq::shm {

namespace {

// A blocked append looks for dead members holding back space at most this often (the
// look costs a kill() and a /proc read per member).
constexpr std::chrono::milliseconds kReapInterval{100};

} // namespace

// A blocking append's place in line (MemberTable::take_ticket), given back when the
// append ends whichever way. Number 0 when another thread of this registration already
// waits with the slot's ticket: this one then yields to every ticket.
class ShmQueue::SpaceTicket {
public:
  SpaceTicket(const ShmQueue &queue, const Registration &me, std::uint64_t needed)
      : queue_(queue), me_(me) {
    queue_.with_lock([&] {
      queue_.require_still_ours(me_);
      number_ = queue_.segment_.members.take_ticket(me_.index, needed);
    });
  }
  SpaceTicket(const SpaceTicket &) = delete;
  SpaceTicket &operator=(const SpaceTicket &) = delete;
  ~SpaceTicket() {
    if (number_ == kNoTicket) {
      return;
    }
    try {
      // Our reservation may have been all that held a later appender back.
      queue_.with_lock([&] { queue_.segment_.members.return_ticket(me_.index, number_); });
      queue_.sleepers_.wake_space_sleepers();
    } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw; a ticket
                    // left behind is given back when this registration closes or is reaped
    }
  }
  std::uint64_t number() const noexcept { return number_; }
  // Called after the append that used the ticket gave it back under the lock.
  void spent() noexcept {
    number_ = kNoTicket;
    queue_.sleepers_.wake_space_sleepers(); // the next in line may fit in what is left
  }

private:
  const ShmQueue &queue_;
  Registration me_;
  std::uint64_t number_ = kNoTicket;
};

// Blocked appenders are served in the order they started waiting: each takes a space
// ticket, and an append may use only the space that earlier tickets do not need.
void ShmQueue::append_as_batch(std::span<const OutgoingMessage> batch, std::uint64_t needed,
                               Deadline deadline) {
  if (try_append_as(batch, needed, kNoTicket)) {
    return;
  }
  require_can_ever_fit(needed, batch.size());
  if (deadline.has_passed()) {
    throw_full(needed, free_estimate(), /*waited=*/false);
  }
  SpaceTicket ticket(*this, registration(), needed);
  for (;;) {
    if (try_append_as(batch, needed, ticket.number())) {
      ticket.spent();
      return;
    }
    if (deadline.has_passed() || !wait_for_space_as(needed, deadline, ticket.number())) {
      throw_full(needed, free_estimate(), /*waited=*/true);
    }
  }
}

bool ShmQueue::wait_for_message(Deadline deadline) {
  const Registration me = registration();
  // Our own cursor and backlog count, which another thread of ours may change (a pop, a
  // read-ahead, a move into the backlog). SYNC POINT: backlog published (acquire on the
  // cursor; the seq_cst cursor store in release_space() follows the count's store): a
  // cursor seen moved past messages comes with the count of those it moved into the
  // backlog.
  const auto has_message = [&] {
    return header().tail.load(std::memory_order_acquire) !=
               me.slot->cursor.load(std::memory_order_acquire) ||
           me.slot->backlog_messages.load(std::memory_order_relaxed) != 0;
  };
  if (has_message()) {
    return true;
  }
  SpinWait::Round round(spin_wait_); // learns from this wait when it ends
  if (round.spin(has_message, policy_, deadline)) {
    return true;
  }
  // No lock: an appender publishes tail (seq_cst) and then loads message_wake_wanted
  // (seq_cst); we store message_wake_wanted and then load tail (seq_cst). Either our
  // re-check sees its message, or it sees our announcement and wakes us after bumping
  // the word, which we read before announcing (docs/design.md, "Waiting without
  // polling"). So readers never contend with appenders for the lock to sleep.
  const auto has_message_now = [&] {
    return header().tail.load(std::memory_order_seq_cst) !=
               // SYNC POINT: backlog published (acquire, as in has_message).
               me.slot->cursor.load(std::memory_order_acquire) ||
           me.slot->backlog_messages.load(std::memory_order_relaxed) != 0;
  };
  for (;;) {
    run_interrupt_hook();
    require_still_ours(me);
    if (policy_.never_sleeps()) {
      // Spins in slices (kLongestSpin), so that Ctrl-C and a removed registration are
      // seen between them; announces nothing, so appenders never wake it.
      if (spin_until(has_message, kLongestSpin, deadline)) {
        return true;
      }
      if (deadline.has_passed()) {
        return false;
      }
      continue;
    }
    // Our screens first, so that appends of messages we would skip do not wake us.
    sleepers_.publish_screens(me, screened_senders_, screened_types_);
    const std::uint32_t seen = sleepers_.message_word_now();
    sleepers_.announce_message(me);
    PYSYNCQ_CRASH_POINT("wait_for_message.after_announce");
    if (has_message_now()) {
      sleepers_.retract_message(me);
      return true;
    }
    sleepers_.sleep_for_message(me, seen, Sleepers::nap_until(deadline));
    if (has_message()) {
      return true;
    }
    if (deadline.has_passed()) {
      return false;
    }
  }
}

// Waits until `needed` bytes are free beyond what appends waiting since before `ticket`
// need. A caller that holds back that space itself first moves its unread messages into
// its backlog (docs/design.md, "Blocked appenders"): it never sleeps on its own space.
bool ShmQueue::wait_for_space_as(std::uint64_t needed, Deadline deadline, std::uint64_t ticket) {
  require_can_ever_fit(needed);
  const Registration me = registration();
  // Without the lock only while nobody else holds a ticket: reservations need the lock.
  // Our own ticket (if this thread holds one) reserves nothing ahead of us.
  const std::uint32_t own_tickets = ticket == kNoTicket ? 0 : 1;
  const auto has_space = [&] {
    // Relaxed: a hint; the locked look below decides.
    return header().ticketed_appenders.load(std::memory_order_relaxed) == own_tickets &&
           free_estimate() >= needed;
  };
  if (has_space()) {
    return true;
  }
  SpinWait::Round round(spin_wait_); // learns from this wait when it ends
  if (round.spin(has_space, policy_, deadline)) {
    return true;
  }
  for (;;) {
    run_interrupt_hook();
    move_to_backlog_if_holding(me);
    std::uint32_t seen = 0;
    bool ready = false;
    bool look_again = false;
    with_lock([&] {
      require_still_ours(me);
      const std::uint64_t tail = header().tail.load(std::memory_order_relaxed);
      std::uint64_t head = refresh_head(tail);
      const auto enough = [&] {
        return core::has_room(segment_.members, capacity(), tail, head, needed, ticket);
      };
      if (!enough() &&
          core::reap_due(
              header().last_reap_check_ns, platform::monotonic_ns(),
              static_cast<std::uint64_t>(std::chrono::nanoseconds(kReapInterval).count())) &&
          core::reap_space_holders(segment_.members, head, alive) != 0) {
        head = refresh_head(tail);
      }
      if (enough()) {
        ready = true;
        return;
      }
      const core::HolderVerdict verdict =
          core::judge_holders(segment_.members, head, tail, me.index, alive);
      if (verdict.me_can_move) {
        look_again = true; // a message arrived after our move: move it too
        return;
      }
      if (verdict.deadlock) {
        sleepers_.wake_space_sleepers(); // the other holders judge for themselves now
        throw_deadlock(needed, tail, head, verdict.holders);
      }
      if (verdict.wake_holders) {
        // Before reading `seen` below, or this bump would end our own sleep at once.
        sleepers_.wake(WaitFor::kSpace);
      }
      if (policy_.never_sleeps()) {
        return; // it spins below instead of sleeping: nothing to announce
      }
      sleepers_.announce(me);
      PYSYNCQ_CRASH_POINT("wait_for_space.after_announce");
      // Any later bump follows a reader's cursor store that our next re-check would see
      // (Dekker, see release_space()).
      seen = sleepers_.space_word_now();
      // Re-check after announcing: a reader that stored its cursor before seeing our
      // count did not wake us, but its cursor is visible now (both seq_cst).
      head = refresh_head(tail);
      if (enough()) {
        sleepers_.retract(me);
        ready = true;
      }
    });
    if (ready) {
      return true;
    }
    if (look_again) {
      if (deadline.has_passed()) {
        return false; // a segment rewritten under us must not keep us past the timer
      }
      continue;
    }
    if (policy_.never_sleeps()) {
      (void)spin_until(has_space, kLongestSpin, deadline); // then the locked look again
    } else {
      sleepers_.sleep_for_space(me, seen, Sleepers::nap_until(deadline),
                                [this](auto &&step) { with_lock(step); });
    }
    if (deadline.has_passed()) {
      return false;
    }
  }
}

void ShmQueue::throw_deadlock(std::uint64_t needed, std::uint64_t tail, std::uint64_t head,
                              const std::vector<std::uint32_t> &holders) const {
  std::vector<int> pids;
  std::string names;
  for (const std::uint32_t index : holders) {
    const core::MemberSlot &holder = segment_.members.slot(index);
    pids.push_back(holder.pid);
    names += (names.empty() ? "" : ", ") + std::string("pid ") + std::to_string(holder.pid) +
             " ('" + std::string(holder.sender, strnlen(holder.sender, sizeof holder.sender)) +
             "')";
  }
  const std::uint64_t free_now = free_bytes(tail, head);
  throw Deadlock("deadlock on queue '" + segment_.name +
                     "': " + sizes_text(needed, free_now, capacity()) +
                     ", and every member holding the oldest unread message is blocked "
                     "appending with its backlog full (" +
                     std::to_string(capacity()) +
                     " bytes, the capacity), so no space can ever be freed: " + names,
                 needed, free_now, capacity(), std::move(pids));
}

void ShmQueue::require_can_ever_fit(std::uint64_t needed, std::size_t messages) const {
  if (needed > capacity()) {
    if (messages == 1) {
      throw_never_fits(needed, free_estimate());
    }
    throw QueueFull("batch of " + std::to_string(messages) + " messages, " +
                        std::to_string(needed) + " bytes together, can never fit queue '" +
                        name() + "': its capacity is " + std::to_string(capacity()) + " bytes",
                    needed, free_estimate(), capacity());
  }
}

} // namespace pysyncq::shm
