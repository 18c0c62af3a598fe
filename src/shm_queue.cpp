// ShmQueue: the shared-memory backend, the algorithm of core/ on the platform of platform/.
//
// Appends run under the queue lock (a robust mutex); pops take no lock. A reader's
// bytes are stable because no appender writes below the slowest cursor. Sleeping is on
// two futex words, bumped only when someone sleeps, so the hot path has no syscall.
// docs/design.md explains each choice.
#include "backend.hpp"
#include "core/holders.hpp"
#include "core/record.hpp"
#include "platform/clock.hpp"
#include "platform/crash_point.hpp"
#include "platform/futex.hpp"
#include "platform/liveness.hpp"
#include "platform/robust_mutex.hpp"
#include "platform/shm.hpp"
#include "platform/syscall.hpp"
#include "platform/system.hpp"
#include "segment.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pysyncq {

namespace {

using namespace std::chrono_literals;

// A blocked append looks for dead members holding back space at most this often (the
// look costs a kill() and a /proc read per member).
constexpr auto kReapInterval = 100ms;

// The longest any waiter sleeps before it looks at the queue again. Wakers change the
// queue first and wake sleepers after; one killed in between never wakes them. So a
// blocked append reaps a member killed while holding space within this, and a blocked
// pop sees a message whose writer was killed right after publishing it within this.
// Costs an idle waiter one futex call per interval.
constexpr auto kRecheckInterval = 100ms;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

bool alive(int pid, std::uint64_t start_time) {
  return platform::is_alive(platform::ProcessIdentity{pid, start_time});
}

std::string sizes_text(std::uint64_t needed, std::uint64_t free_bytes, std::uint64_t capacity) {
  return "append needs " + std::to_string(needed) + " bytes; " + std::to_string(free_bytes) +
         " of " + std::to_string(capacity) + " free";
}

Deadline earlier(Deadline a, Deadline b) noexcept {
  return a.when() <= b.when() ? a : b;
}

// Spins until `ready()` or `spin` elapses or the deadline passes. Looks at the clock
// only every 64 rounds: reading it costs about as much as a round.
template <class Ready>
bool spin_until(Ready &&ready, std::chrono::nanoseconds spin, Deadline deadline) {
  if (spin.count() <= 0) {
    return false;
  }
  const Deadline spin_end = earlier(Deadline::after(spin), deadline);
  for (;;) {
    for (int round = 0; round < 64; ++round) {
      if (ready()) {
        return true;
      }
      cpu_relax();
    }
    if (spin_end.has_passed()) {
      return ready();
    }
  }
}

} // namespace

// This process's registration as a waiting thread sees it: captured once under the
// handle's mutex, so a close by another thread cannot pull it away mid-wait.
struct Registration {
  core::MemberSlot *slot = nullptr;
  std::uint32_t index = 0;
  int pid = 0;

  // Under the queue lock: false once a close or a forced reap freed the slot.
  bool still_ours() const noexcept {
    return slot != nullptr && slot->state.load(std::memory_order_relaxed) == core::kSlotActive &&
           slot->pid == pid;
  }
};

class ShmQueue final : public Queue::Impl {
public:
  ShmQueue(Segment segment, std::optional<std::chrono::milliseconds> inspect_lock_timeout)
      : segment_(std::move(segment)), inspect_lock_timeout_(inspect_lock_timeout) {}
  ~ShmQueue() override {
    if (is_open_here()) {
      try {
        close();
      } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw
      }
    }
  }
  // --- registration ---

  void open(std::string_view sender) override {
    std::lock_guard local(local_mutex());
    if (is_open_here()) {
      throw InvalidArgument("queue '" + segment_.name + "' is already open in this process as '" +
                            sender_ + "'");
    }
    const platform::ProcessIdentity self = platform::current_process();
    std::string name = sender.empty() ? std::to_string(self.pid) : std::string(sender);
    if (name.size() > core::kMaxFieldBytes) {
      throw InvalidArgument("sender name of " + std::to_string(name.size()) +
                            " bytes is too long");
    }
    std::uint32_t index = 0;
    with_lock([&] {
      segment_.members.reap_dead(alive);
      // Relaxed: tail changes only under the lock we hold.
      const std::uint64_t tail = header().tail.load(std::memory_order_relaxed);
      const auto joined = segment_.members.join(self.pid, self.start_time, name, tail);
      if (!joined) {
        throw TooManyMembers("queue '" + segment_.name + "' already has " +
                             std::to_string(segment_.members.max_members()) +
                             " members, its limit (set when it was created)");
      }
      index = *joined;
      PYSYNCQ_CRASH_POINT("open.after_join");
    });
    registration_ = Registration{&segment_.members.slot(index), index, self.pid};
    backlog_.clear(); // a forked child that opens anew never reads its parent's backlog
    backlog_bytes_ = 0;
    opening_thread_ = std::this_thread::get_id();
    shared_by_threads_ = false;
    opened_generation_ = platform::fork_generation();
    sender_ = std::move(name);
  }

  bool is_open_here() const noexcept override {
    return registration_.slot != nullptr && opened_generation_ == platform::fork_generation();
  }

  void close() override {
    std::lock_guard local(local_mutex());
    const bool was_open = is_open_here();
    with_lock([&] {
      if (was_open && registration_.still_ours()) {
        segment_.members.leave(registration_.index);
        PYSYNCQ_CRASH_POINT("close.after_leave");
      }
      segment_.members.reap_dead(alive);
      if (header().member_count.load(std::memory_order_relaxed) == 0) {
        segment_.unlink_once();
      }
    });
    if (was_open) {
      registration_.slot = nullptr;
      sender_.clear();
      backlog_.clear(); // dropped, as the unread messages in the ring are
      backlog_bytes_ = 0;
      // What we had not read is free now, and threads of ours asleep for a message
      // must find out that the registration is gone.
      wake(header().space_futex);
      wake(header().message_futex);
    }
  }

  // --- append ---

  bool try_append(std::string_view type, std::string_view body) override {
    return try_append_as(type, body, kNoTicket);
  }

  // Blocked appenders are served in the order they started waiting: each takes a space
  // ticket, and an append may use only the space that earlier tickets do not need.
  void append(std::string_view type, std::string_view body, Deadline deadline) override {
    const std::uint64_t needed = footprint_checked(type, body);
    if (try_append(type, body)) {
      return;
    }
    require_can_ever_fit(needed);
    if (deadline.has_passed()) {
      throw_full(needed, /*waited=*/false);
    }
    SpaceTicket ticket(*this, registration(), needed);
    for (;;) {
      if (try_append_as(type, body, ticket.number())) {
        ticket.spent();
        return;
      }
      if (deadline.has_passed() || !wait_for_space_as(needed, deadline, ticket.number())) {
        throw_full(needed, /*waited=*/true);
      }
    }
  }

  bool wait_for_space(std::uint64_t needed, Deadline deadline) override {
    return wait_for_space_as(needed, deadline, kNoTicket);
  }

  // --- pop ---

  bool try_pop_visit(const std::function<void(const MessageView &)> &visit) override {
    std::lock_guard local(local_mutex());
    require_open();
    // The backlog holds what this registration read out of the ring while blocked
    // appending: it comes before everything still in the ring.
    while (!backlog_.empty()) {
      const Message &oldest = backlog_.front();
      if (!screened(oldest.sender, oldest.type)) { // screens added since the move apply too
        visit(MessageView{oldest.sender, oldest.type, oldest.body}); // may throw: stays
        drop_oldest_from_backlog();
        return true;
      }
      drop_oldest_from_backlog();
    }
    // Relaxed: only this handle writes its cursor, under local_mutex_.
    std::uint64_t position = registration_.slot->cursor.load(std::memory_order_relaxed);
    // SYNC POINT: publish (acquire; pairs with the appender's store of tail).
    const std::uint64_t tail = header().tail.load(std::memory_order_acquire);
    std::uint64_t skipped = 0;
    while (position != tail) {
      if (tail < position) {
        throw NotAQueue("corrupt queue '" + segment_.name + "': read position " +
                        std::to_string(position) + " is past the tail " + std::to_string(tail));
      }
      const core::RecordExtent extent =
          core::read_record_header(segment_.ring, position, tail - position);
      const core::FieldPositions fields = core::field_positions(position, extent.header);
      const std::uint64_t next = position + extent.total_bytes;
      MessageView view;
      view.sender = segment_.ring.view(fields.sender, extent.header.sender_bytes, scratch_);
      view.type = segment_.ring.view(fields.type, extent.header.type_bytes, scratch_);
      if (screened(view.sender, view.type)) {
        position = next;
        ++skipped;
        continue;
      }
      view.body = segment_.ring.view(fields.body, extent.header.body_bytes, scratch_);
      visit(view); // may throw: then this message stays unread
      PYSYNCQ_CRASH_POINT("pop.before_advance");
      release_space(next, skipped + 1);
      return true;
    }
    if (skipped != 0) {
      release_space(position, skipped);
    }
    return false;
  }

  bool wait_for_message(Deadline deadline) override {
    const Registration me = registration();
    // Relaxed: our own cursor and backlog count; a concurrent pop of ours only moves the
    // cursor towards the tail, and a move into the backlog only adds to it.
    const auto has_message = [&] {
      return header().tail.load(std::memory_order_acquire) !=
                 me.slot->cursor.load(std::memory_order_relaxed) ||
             me.slot->backlog_messages.load(std::memory_order_relaxed) != 0;
    };
    if (has_message() || spin_until(has_message, policy_.spin, deadline)) {
      return true;
    }
    for (;;) {
      run_interrupt_hook();
      std::uint32_t seen = 0;
      bool ready = false;
      with_lock([&] {
        require_still_ours(me);
        if (has_message()) {
          ready = true;
          return;
        }
        announce_sleep(me, core::kMessageSleeperUnit, header().message_sleepers);
        PYSYNCQ_CRASH_POINT("wait_for_message.after_announce");
        // Relaxed: read under the lock; an appender that publishes after this reads
        // our count under the same lock and bumps the word after it.
        seen = header().message_futex.load(std::memory_order_relaxed);
      });
      if (ready) {
        return true;
      }
      const Deadline nap = earlier(Deadline::after(kRecheckInterval), deadline);
      sleep_announced(me, header().message_futex, seen, nap, core::kMessageSleeperUnit,
                      header().message_sleepers);
      if (has_message()) {
        return true;
      }
      if (deadline.has_passed()) {
        return false;
      }
    }
  }

  // --- maintenance and inspection ---

  std::uint32_t reap() override {
    std::uint32_t reaped = 0;
    with_inspect_lock([&] { reaped = segment_.members.reap_dead(alive); });
    if (reaped != 0) {
      wake(header().space_futex);
    }
    return reaped;
  }

  Stats stats() const override;

  // Removes the name now, whoever is registered, and marks the segment so that its last
  // close does not remove a newer queue that took the name. Under the lock, so that a
  // last close (unlink_once) runs wholly before or after it.
  void unlink_now() override {
    with_inspect_lock([&] { segment_.unlink_now(); });
  }
  // The same without the lock, for a lock that never comes free (syncq rm --force).
  void unlink_now_without_lock() override { segment_.unlink_now(); }

  // --- accessors ---

  const std::string &name() const noexcept override { return segment_.name; }
  std::uint64_t capacity() const noexcept override { return segment_.ring.capacity(); }
  std::uint32_t max_members() const noexcept override {
    return segment_.members.max_members();
  }
  const std::string &sender() const noexcept override {
    static const std::string none;
    return is_open_here() ? sender_ : none;
  }

  std::uint64_t footprint_checked(std::string_view type, std::string_view body) const {
    if (type.size() > core::kMaxFieldBytes) {
      throw InvalidArgument("message type of " + std::to_string(type.size()) +
                            " bytes is too long; at most " + std::to_string(core::kMaxFieldBytes));
    }
    return core::record_bytes(sender_.size(), type.size(), body.size());
  }

private:
  core::SegmentHeader &header() const noexcept { return *segment_.header; }

  // Runs `step` holding the queue lock, waiting for it as long as it takes (members: a
  // process that can write the segment can stall them anyway, docs/failures.md).
  template <class Step> void with_lock(Step &&step) const {
    platform::RobustLock lock(header().lock_storage);
    locked(lock, step);
  }

  // As with_lock, but waits at most inspect_lock_timeout_ (when set) and then throws
  // LockHeld naming the holder: for stats, reap and unlink, which tools call on queues
  // that may be hung or hostile (syncq ls, stat, reap, rm).
  template <class Step> void with_inspect_lock(Step &&step) const {
    if (!inspect_lock_timeout_) {
      with_lock(step);
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    platform::RobustLock lock(header().lock_storage, Deadline::after(*inspect_lock_timeout_));
    if (!lock.held()) {
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const int holder = platform::robust_mutex_holder(header().lock_storage);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", waited);
      throw LockHeld("queue '" + segment_.name + "': lock held by pid " +
                         std::to_string(holder) + " for " + seconds +
                         " s (at least; gave up waiting)",
                     holder, waited);
    }
    locked(lock, step);
  }

  // With the lock held: if the previous holder died, repairs first (a half-written record
  // is invisible already, tail was not advanced, so what is left is the dead process's
  // slot and the sleeper counts it may have been changing). Then checks that the header
  // still has the geometry this process attached to, and runs `step`.
  template <class Step> void locked(platform::RobustLock &lock, Step &&step) const {
    if (lock.owner_died()) {
      header().lock_recoveries.fetch_add(1, std::memory_order_relaxed); // stats only
      segment_.members.repair_after_crash(); // first: reaping relies on the counts
      segment_.members.reap_dead(alive);
      lock.mark_consistent();
    }
    segment_.require_geometry_unchanged();
    step();
  }

  std::uint64_t free_bytes(std::uint64_t tail, std::uint64_t head) const noexcept {
    const std::uint64_t used = tail - head;
    return used >= capacity() ? 0 : capacity() - used;
  }

  // Under the lock: recomputes and caches the slowest cursor.
  std::uint64_t refresh_head(std::uint64_t tail) const noexcept {
    const std::uint64_t head = segment_.members.slowest_cursor(tail);
    header().head.store(head, std::memory_order_relaxed); // under the lock; stats read it
    return head;
  }

  // Without the lock: free space as the cursors say now (may be stale on return).
  std::uint64_t free_estimate() const noexcept {
    const std::uint64_t tail = header().tail.load(std::memory_order_seq_cst);
    return free_bytes(tail, segment_.members.slowest_cursor(tail));
  }

  bool reap_due() const noexcept {
    const std::uint64_t now = platform::monotonic_ns();
    // Relaxed: under the lock; only a rate limit.
    const std::uint64_t last = header().last_reap_check_ns.load(std::memory_order_relaxed);
    if (now - last < static_cast<std::uint64_t>(std::chrono::nanoseconds(kReapInterval).count())) {
      return false;
    }
    header().last_reap_check_ns.store(now, std::memory_order_relaxed);
    return true;
  }

  [[noreturn]] void throw_deadlock(std::uint64_t needed, std::uint64_t tail, std::uint64_t head,
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
    throw Deadlock("deadlock on queue '" + segment_.name + "': " +
                       sizes_text(needed, free_now, capacity()) +
                       ", and every member holding the oldest unread message is blocked "
                       "appending with its backlog full (" +
                       std::to_string(capacity()) +
                       " bytes, the capacity), so no space can ever be freed: " + names,
                   needed, free_now, capacity(), std::move(pids));
  }

  [[noreturn]] void throw_full(std::uint64_t needed, bool waited) const {
    const std::uint64_t free_now = free_estimate();
    throw QueueFull("queue '" + segment_.name + "' is full: " +
                        sizes_text(needed, free_now, capacity()) +
                        (waited ? " (wait timed out)" : ""),
                    needed, free_now, capacity());
  }

  void require_can_ever_fit(std::uint64_t needed) const {
    if (needed > capacity()) {
      throw QueueFull("message of " + std::to_string(needed) + " bytes can never fit queue '" +
                          segment_.name + "': its capacity is " + std::to_string(capacity()) +
                          " bytes",
                      needed, free_estimate(), capacity());
    }
  }

  static constexpr std::uint64_t kNoTicket = 0;

  // A blocking append's place in line (MemberTable::take_ticket), given back when the
  // append ends whichever way. Number 0 when another thread of this registration already
  // waits with the slot's ticket: this one then yields to every ticket.
  class SpaceTicket {
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
        queue_.wake_space_sleepers();
      } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw; a ticket
                      // left behind is given back when this registration closes or is reaped
      }
    }
    std::uint64_t number() const noexcept { return number_; }
    // Called after the append that used the ticket gave it back under the lock.
    void spent() noexcept {
      number_ = kNoTicket;
      queue_.wake_space_sleepers(); // the next in line may fit in what is left
    }

  private:
    const ShmQueue &queue_;
    Registration me_;
    std::uint64_t number_ = kNoTicket;
  };

  // Appends if the message fits in the space that appends waiting since before `ticket`
  // do not need (kNoTicket: before every ticket). A ticket that is used is given back.
  bool try_append_as(std::string_view type, std::string_view body, std::uint64_t ticket) {
    const std::uint64_t needed = footprint_checked(type, body);
    std::lock_guard local(local_mutex());
    require_open();
    bool appended = false;
    bool wake_readers = false;
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
      core::write_record(segment_.ring, tail, sender_, type, body);
      PYSYNCQ_CRASH_POINT("append.after_copy");
      // SYNC POINT: publish (seq_cst store; readers acquire-load tail). seq_cst also
      // orders it before the load of message_sleepers below for sleepers that check
      // tail without our lock (a spinning reader needs no wake, a sleeping one was
      // counted under the lock, so either way it sees the message or gets woken).
      header().tail.store(tail + needed, std::memory_order_seq_cst);
      PYSYNCQ_CRASH_POINT("append.after_publish");
      segment_.members.return_ticket(registration_.index, ticket);
      wake_readers = header().message_sleepers.load(std::memory_order_relaxed) != 0;
      appended = true;
    });
    PYSYNCQ_CRASH_POINT("append.before_wake"); // published and unlocked, nobody woken yet
    if (wake_readers) {
      wake(header().message_futex);
    }
    return appended;
  }

  // Waits until `needed` bytes are free beyond what appends waiting since before `ticket`
  // need. A caller that holds back that space itself first moves its unread messages into
  // its backlog (docs/design.md, "Blocked appenders"): it never sleeps on its own space.
  bool wait_for_space_as(std::uint64_t needed, Deadline deadline, std::uint64_t ticket) {
    require_can_ever_fit(needed);
    const Registration me = registration();
    // Without the lock only while nobody holds a ticket: reservations need the lock.
    const auto has_space = [&] {
      // Relaxed: a hint; the locked look below decides.
      return header().ticketed_appenders.load(std::memory_order_relaxed) == 0 &&
             free_estimate() >= needed;
    };
    if (has_space() || spin_until(has_space, policy_.spin, deadline)) {
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
          return free_bytes(tail, head) >= needed + segment_.members.reserved_before(ticket);
        };
        if (!enough() && reap_due()) {
          // A dead ticket holder reserves space wherever its cursor is: look at everyone.
          const bool everyone = segment_.members.has_dead_ticket_holder(alive);
          if (segment_.members.reap_dead(alive, everyone ? std::nullopt
                                                         : std::optional<std::uint64_t>(head)) !=
              0) {
            head = refresh_head(tail);
          }
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
          wake_space_sleepers(); // the other holders judge for themselves now
          throw_deadlock(needed, tail, head, verdict.holders);
        }
        if (verdict.wake_holders) {
          // Before reading `seen` below, or this bump would end our own sleep at once.
          wake(header().space_futex);
        }
        announce_sleep(me, core::kSpaceSleeperUnit, header().space_sleepers);
        PYSYNCQ_CRASH_POINT("wait_for_space.after_announce");
        // Relaxed: read under the lock; any later bump follows a reader's cursor store
        // that our next re-check would see (Dekker, see release_space()).
        seen = header().space_futex.load(std::memory_order_relaxed);
        // Re-check after announcing: a reader that stored its cursor before seeing our
        // count did not wake us, but its cursor is visible now (both seq_cst).
        head = refresh_head(tail);
        if (enough()) {
          retract_sleep(me, core::kSpaceSleeperUnit, header().space_sleepers);
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
      const Deadline nap = earlier(Deadline::after(kRecheckInterval), deadline);
      sleep_announced(me, header().space_futex, seen, nap, core::kSpaceSleeperUnit,
                      header().space_sleepers);
      if (deadline.has_passed()) {
        return false;
      }
    }
  }

  // Without the queue lock, as a pop: if our cursor is the slowest one, copies our unread
  // messages out of the ring into the backlog (screened ones are skipped, as pop skips
  // them), up to the backlog's bound of capacity() bytes, and moves the cursor past them.
  // Sets backlog_full when the bound stopped it with a message still unread in the ring.
  void move_to_backlog_if_holding(const Registration &me) {
    std::lock_guard local(local_mutex());
    if (!is_open_here() || registration_.slot != me.slot || !me.still_ours()) {
      return; // the locked look that follows reports it
    }
    core::MemberSlot &slot = *me.slot;
    // Relaxed: only this handle writes its cursor, under local_mutex_.
    std::uint64_t position = slot.cursor.load(std::memory_order_relaxed);
    // SYNC POINT: publish (acquire; pairs with the appender's store of tail).
    const std::uint64_t tail = header().tail.load(std::memory_order_acquire);
    if (position == tail || segment_.members.slowest_cursor(tail) != position) {
      return; // nothing unread, or someone else holds the space back
    }
    std::uint64_t moved = 0;
    std::uint64_t screened_out = 0; // count as read, as pop counts them
    bool full = false;
    while (position != tail) {
      if (tail < position) {
        throw NotAQueue("corrupt queue '" + segment_.name + "': read position " +
                        std::to_string(position) + " is past the tail " + std::to_string(tail));
      }
      const core::RecordExtent extent =
          core::read_record_header(segment_.ring, position, tail - position);
      const core::FieldPositions fields = core::field_positions(position, extent.header);
      Message message;
      message.sender.assign(segment_.ring.view(fields.sender, extent.header.sender_bytes, scratch_));
      message.type.assign(segment_.ring.view(fields.type, extent.header.type_bytes, scratch_));
      if (!screened(message.sender, message.type)) {
        if (backlog_bytes_ + extent.total_bytes > capacity()) {
          full = true;
          break;
        }
        message.body.assign(segment_.ring.view(fields.body, extent.header.body_bytes, scratch_));
        backlog_.push_back(std::move(message));
        backlog_bytes_ += extent.total_bytes;
      } else {
        ++screened_out;
      }
      position += extent.total_bytes;
      ++moved;
    }
    // Relaxed: stats, and (backlog_full) a verdict that reads it after our next locked
    // look (see layout.hpp).
    slot.backlog_messages.store(backlog_.size(), std::memory_order_relaxed);
    slot.backlog_bytes.store(backlog_bytes_, std::memory_order_relaxed);
    slot.backlog_full.store(full ? 1U : 0U, std::memory_order_relaxed);
    if (moved != 0) {
      PYSYNCQ_CRASH_POINT("backlog.before_advance"); // copied, cursor not yet moved
      release_space(position, screened_out);
    }
  }

  // Under local_mutex_: the oldest backlog message is read (or screened).
  void drop_oldest_from_backlog() {
    const Message &oldest = backlog_.front();
    backlog_bytes_ -= core::record_bytes(oldest.sender.size(), oldest.type.size(),
                                         oldest.body.size());
    backlog_.pop_front();
    core::MemberSlot &slot = *registration_.slot;
    // Relaxed: stats and the deadlock verdict (see layout.hpp); room again in the backlog.
    slot.backlog_messages.store(backlog_.size(), std::memory_order_relaxed);
    slot.backlog_bytes.store(backlog_bytes_, std::memory_order_relaxed);
    slot.backlog_full.store(0, std::memory_order_relaxed);
    slot.messages_read.fetch_add(1, std::memory_order_relaxed); // stats only
  }

  void wake_space_sleepers() const noexcept {
    if (header().space_sleepers.load(std::memory_order_seq_cst) != 0) {
      wake(header().space_futex);
    }
  }

  // Under the lock: counts this thread as asleep, in the slot (so reaping and recovery
  // can take it back) and in the queue-wide count that wakers read.
  static void announce_sleep(const Registration &me, std::uint32_t unit,
                             std::atomic<std::uint32_t> &sleepers) noexcept {
    // seq_cst: the space re-check that follows must not move before it (Dekker with
    // the reader's cursor store then load of space_sleepers).
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    me.slot->waiting.fetch_add(unit, std::memory_order_relaxed);
    me.slot->waiting_since_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  }

  static void retract_sleep(const Registration &me, std::uint32_t unit,
                            std::atomic<std::uint32_t> &sleepers) noexcept {
    // A close or reap under the lock may have taken our counts back already.
    if (!me.still_ours()) {
      return;
    }
    const std::uint32_t waiting = me.slot->waiting.load(std::memory_order_relaxed);
    const bool counted = unit == core::kSpaceSleeperUnit ? core::space_sleepers_of(waiting) != 0
                                                         : core::message_sleepers_of(waiting) != 0;
    if (!counted) {
      return;
    }
    me.slot->waiting.fetch_sub(unit, std::memory_order_relaxed);
    sleepers.fetch_sub(1, std::memory_order_relaxed);
  }

  // Sleeps on `word` after announce_sleep(), then takes the announcement back under the
  // lock, also when the wait throws.
  void sleep_announced(const Registration &me, std::atomic<std::uint32_t> &word,
                       std::uint32_t seen, Deadline until, std::uint32_t unit,
                       std::atomic<std::uint32_t> &sleepers) const {
    try {
      (void)platform::futex_wait(word, seen, until); // the caller re-checks the queue
    } catch (...) {
      with_lock([&] { retract_sleep(me, unit, sleepers); });
      throw;
    }
    with_lock([&] { retract_sleep(me, unit, sleepers); });
  }

  // After a pop: moves our cursor to `next` and wakes appenders waiting for space.
  void release_space(std::uint64_t next, std::uint64_t messages) {
    core::MemberSlot &slot = *registration_.slot;
    slot.messages_read.fetch_add(messages, std::memory_order_relaxed); // stats only
    // SYNC POINT: consumed (seq_cst store; appenders acquire-load cursors). seq_cst
    // orders it before our load of space_sleepers (Dekker with announce_sleep()).
    slot.cursor.store(next, std::memory_order_seq_cst);
    if (header().space_sleepers.load(std::memory_order_seq_cst) != 0) {
      wake(header().space_futex);
    }
  }

  void wake(std::atomic<std::uint32_t> &word) const noexcept {
    // Relaxed: the futex word carries no data; sleepers re-check the queue itself.
    word.fetch_add(1, std::memory_order_relaxed);
    platform::futex_wake_all(word);
  }


  void require_open() const {
    if (!is_open_here()) {
      throw NotOpen(not_open_text());
    }
    note_calling_thread();
    // Our slot stays ours while we live; this catches a registration removed from
    // outside (a process that shares our pid namespace can't be reaped while alive).
    if (!registration_.still_ours()) {
      throw NotOpen("the registration of this process in queue '" + segment_.name +
                    "' was removed (reaped or overwritten); open() it again");
    }
  }
  // Marks the slot once a second thread uses this registration (see kSlotSharedByThreads).
  void note_calling_thread() const noexcept {
    if (!shared_by_threads_ && std::this_thread::get_id() != opening_thread_) {
      shared_by_threads_ = true;
      // Relaxed: read under the lock by deadlock checks, which tolerate seeing it late.
      registration_.slot->flags.fetch_or(core::kSlotSharedByThreads, std::memory_order_relaxed);
    }
  }

  Registration registration() const {
    std::lock_guard local(local_mutex());
    require_open();
    return registration_;
  }
  // Under the lock, in a wait: the slot may have been freed by a close of another thread
  // of ours, but also reaped (a liveness check that went wrong) or overwritten by a
  // writer to the segment; none of these is the waiter's doing, so none is blamed on it.
  void require_still_ours(const Registration &me) const {
    if (!me.still_ours()) {
      throw NotOpen("the registration of this process in queue '" + segment_.name +
                    "' was removed during the wait (closed, reaped or overwritten); open() "
                    "it again");
    }
  }
  std::string not_open_text() const {
    if (registration_.slot != nullptr) {
      return "queue '" + segment_.name + "' was opened by process " +
             std::to_string(registration_.pid) +
             ", not by this one (" + std::to_string(platform::current_pid()) +
             "); call open() in this process first";
    }
    return "queue '" + segment_.name + "' is not open in this process; call open() first";
  }

  Segment segment_;
  std::optional<std::chrono::milliseconds> inspect_lock_timeout_; // AttachOptions
  // The handle's mutex, made anew in a forked child: another thread of the parent (the
  // notifier's, say) may have held it at the fork, and would never release it there.
  std::mutex &local_mutex() const noexcept {
    const std::uint64_t generation = platform::fork_generation();
    if (mutex_generation_ != generation) { // only the child's first thread gets here
      new (&local_mutex_) std::mutex;
      mutex_generation_ = generation;
    }
    return local_mutex_;
  }

  mutable std::mutex local_mutex_; // serialises this handle's threads around the cursor
  mutable std::uint64_t mutex_generation_ = platform::fork_generation();
  Registration registration_;
  std::thread::id opening_thread_;
  mutable bool shared_by_threads_ = false; // under local_mutex_
  std::uint64_t opened_generation_ = 0;
  std::string sender_;
  std::string scratch_; // backs a field that wraps around the ring's end
  // Messages this registration moved out of the ring while blocked appending, oldest
  // first; under local_mutex_. Private memory: a fork or another process never sees it.
  std::deque<Message> backlog_;
  std::uint64_t backlog_bytes_ = 0; // their record footprints; at most capacity()
};

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
    constexpr std::size_t kMaxWalk = 10'000'000;
    std::uint64_t position = head;
    while (position < tail && record_positions.size() < kMaxWalk) {
      record_positions.push_back(position);
      position += core::read_record_header(segment_.ring, position, tail - position).total_bytes;
    }
  });
  stats.queued_messages = record_positions.size();
  stats.members = static_cast<std::uint32_t>(seen.size());
  for (Seen &entry : seen) {
    entry.member.alive = alive(entry.member.pid, entry.start_time); // outside the lock
    stats.dead_members += entry.member.alive ? 0 : 1;
    entry.member.unread_messages = static_cast<std::uint64_t>(
        record_positions.end() -
        std::lower_bound(record_positions.begin(), record_positions.end(), entry.cursor)) +
        entry.member.backlog_messages;
    stats.member_list.push_back(std::move(entry.member));
  }
  return stats;
}

std::unique_ptr<Queue::Impl> create_shm_queue(std::string_view name, const CreateOptions &options) {
  return std::make_unique<ShmQueue>(Segment::create(name, options), std::nullopt);
}

std::unique_ptr<Queue::Impl> attach_shm_queue(std::string_view name,
                                              const AttachOptions &options) {
  return std::make_unique<ShmQueue>(Segment::attach(name, options),
                                    options.inspect_lock_timeout);
}

namespace {
// A segment named by a hash (a long name where the OS limits names: macOS, the portable
// build) is listed under the full name its header keeps, when that name is valid and
// hashes to this very segment; any other segment keeps its file name.
std::string full_queue_name(std::string file_name, const std::string &header) {
  const char *field = header.data() + offsetof(core::SegmentHeader, queue_name);
  std::string name(field, strnlen(field, core::kQueueNameBytes));
  try {
    if (name != file_name && platform::shm_path_for(name) == "/" + file_name) {
      return name;
    }
  } catch (const InvalidArgument &) {
    // not a queue name: keep the file's
  }
  return file_name;
}
} // namespace

std::vector<SegmentInfo> list_segments() {
  // The header up to the full name: the magic and the state word (offset 56) tell a
  // queue from a file that only starts like one, without mapping anything or waiting
  // for anyone; the name is what a hashed segment name stands for.
  constexpr std::size_t kPrefixBytes = sizeof(core::SegmentHeader);
  std::vector<SegmentInfo> segments;
  for (platform::ShmEntry &entry : platform::list_shm_entries(kPrefixBytes)) {
    SegmentInfo info;
    info.name = std::move(entry.name);
    switch (entry.kind) {
    case platform::ShmEntry::Kind::kNotRegular:
      info.detail = "not a regular file (a FIFO, socket, device, directory or link)";
      break;
    case platform::ShmEntry::Kind::kUnreadable:
      info.detail = "not readable by this user";
      break;
    case platform::ShmEntry::Kind::kRegular:
      if (entry.prefix.empty()) {
        info.detail = "empty";
      } else if (entry.prefix.size() < sizeof core::kMagic ||
                 std::memcmp(entry.prefix.data(), &core::kMagic, sizeof core::kMagic) != 0) {
        info.detail = "no pysyncq magic";
      } else {
        std::uint32_t state = core::kInitialising;
        if (entry.prefix.size() == kPrefixBytes) {
          std::memcpy(&state, entry.prefix.data() + offsetof(core::SegmentHeader, state),
                      sizeof state);
        }
        info.kind = state == core::kReady ? SegmentInfo::Kind::kQueue
                                          : SegmentInfo::Kind::kInitialising;
        info.owner_uid = entry.owner_uid;
        if (state == core::kReady) {
          info.name = full_queue_name(std::move(info.name), entry.prefix);
        }
      }
      break;
    }
    segments.push_back(std::move(info));
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentInfo &a, const SegmentInfo &b) { return a.name < b.name; });
  return segments;
}

std::vector<std::string> list_queues() {
  std::vector<std::string> names;
  for (SegmentInfo &segment : list_segments()) {
    if (segment.kind == SegmentInfo::Kind::kQueue) {
      names.push_back(std::move(segment.name));
    }
  }
  return names;
}

} // namespace pysyncq
