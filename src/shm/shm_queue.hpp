// ShmQueue: the shared-memory backend, the algorithm of core/ on the platform of platform/.
//
// Appends run under the queue lock (a robust mutex); pops take no lock. A reader's
// bytes are stable because no appender writes below the slowest cursor. Sleeping is on
// two futex words, bumped only when someone sleeps, so the hot path has no syscall.
// docs/design.md explains each choice; its "File map" says which file holds what:
//   registration.cpp  open, close, reap, unlink, the handle's checks
//   append_pop.cpp    the non-blocking append and pop (the hot path)
//   waits.cpp         blocking append, waits for space and for a message, space tickets
//   backlog.cpp       the backlog: a blocked appender's moves, a pop's read-ahead
//   sleepers.*        going to sleep and waking
//   lock.cpp          the queue lock: crash repair, the bounded wait of the tools
//   stats.cpp         stats()
//   listing.cpp       list_segments(), list_queues()
#pragma once

#include "backend.hpp"
#include "core/holders.hpp"
#include "core/layout.hpp"
#include "platform/robust_mutex.hpp"
#include "segment.hpp"
#include "shm/backlog.hpp"
#include "shm/fork_safe_mutex.hpp"
#include "shm/registration.hpp"
#include "shm/sleepers.hpp"
#include "shm/spin_wait.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pysyncq::shm {

bool alive(int pid, std::uint64_t start_time);

class ShmQueue final : public Queue::Impl {
public:
  ShmQueue(Segment segment, std::optional<std::chrono::milliseconds> inspect_lock_timeout)
      : segment_(std::move(segment)), inspect_lock_timeout_(inspect_lock_timeout),
        sleepers_(*segment_.header, segment_.members), spin_wait_(*segment_.header) {}
  ~ShmQueue() override;

  // --- registration (registration.cpp) ---
  void open(std::string_view sender) override;
  void close() override;

  // --- append and pop (append_pop.cpp; the blocking parts in waits.cpp) ---
  bool try_append(std::string_view type, std::string_view body) override {
    const OutgoingMessage message{type, body};
    return try_append_as({&message, 1}, footprint_checked(type, body), kNoTicket);
  }
  void append(std::string_view type, std::string_view body, Deadline deadline) override {
    const OutgoingMessage message{type, body};
    append_as_batch({&message, 1}, footprint_checked(type, body), deadline);
  }
  bool try_append_many(std::span<const OutgoingMessage> messages) override {
    return try_append_as(messages, footprint_checked(messages), kNoTicket);
  }
  void append_many(std::span<const OutgoingMessage> messages, Deadline deadline) override {
    append_as_batch(messages, footprint_checked(messages), deadline);
  }
  bool wait_for_space(std::uint64_t needed, Deadline deadline) override {
    return wait_for_space_as(needed, deadline, kNoTicket);
  }
  bool try_pop_visit(const std::function<void(const MessageView &)> &visit,
                     std::size_t read_ahead) override {
    return pop_visit(1, visit, read_ahead) != 0;
  }
  std::size_t try_pop_many_visit(std::size_t max_messages,
                                 const std::function<void(const MessageView &)> &visit) override {
    return pop_visit(max_messages, visit, 0);
  }
  bool wait_for_message(Deadline deadline) override;

  // --- maintenance and inspection (registration.cpp, stats.cpp) ---
  std::uint32_t reap() override;
  Stats stats() const override;
  void unlink_now() override;
  void unlink_now_without_lock() override;

  // --- accessors ---
  const std::string &name() const noexcept override { return segment_.name; }
  std::uint64_t capacity() const noexcept override { return segment_.ring.capacity(); }
  std::uint32_t max_members() const noexcept override { return segment_.members.max_members(); }
  std::uint64_t footprint(std::string_view type, std::string_view body) const override;

  std::uint64_t footprint_checked(std::string_view type, std::string_view body) const;

private:
  class SpaceTicket;
  static constexpr std::uint64_t kNoTicket = 0;

  core::SegmentHeader &header() const noexcept { return *segment_.header; }
  std::mutex &local_mutex() const noexcept { return local_mutex_.get(); }

  // --- the queue lock (lock.cpp) ---

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
      throw_lock_held(started);
    }
    locked(lock, step);
  }
  [[noreturn]] void throw_lock_held(std::chrono::steady_clock::time_point started) const;

  // With the lock held: if the previous holder died, repairs first (a half-written record
  // is invisible already, tail was not advanced, so what is left is the dead process's
  // slot and the sleeper counts it may have been changing). Then checks that the header
  // still has the geometry this process attached to, and runs `step`.
  template <class Step> void locked(platform::RobustLock &lock, Step &&step) const {
    if (lock.owner_died()) {
      repair_after_crash(lock);
    }
    segment_.require_geometry_unchanged();
    step();
  }
  void repair_after_crash(platform::RobustLock &lock) const;

  // --- space accounting ---

  std::uint64_t free_bytes(std::uint64_t tail, std::uint64_t head) const noexcept {
    return core::free_bytes(capacity(), tail, head);
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

  // --- append and pop internals (append_pop.cpp, waits.cpp, backlog.cpp) ---

  // A batch is one or more messages appended together: `needed` is their footprints' sum.
  bool try_append_as(std::span<const OutgoingMessage> batch, std::uint64_t needed,
                     std::uint64_t ticket);
  void append_as_batch(std::span<const OutgoingMessage> batch, std::uint64_t needed,
                       Deadline deadline);
  std::uint64_t footprint_checked(std::span<const OutgoingMessage> batch) const;
  bool wait_for_space_as(std::uint64_t needed, Deadline deadline, std::uint64_t ticket);
  // Pops up to `max_messages` without waiting, the backlog first; one that reads the ring
  // then reads up to `read_ahead` more messages ahead into the backlog.
  std::size_t pop_visit(std::size_t max_messages,
                        const std::function<void(const MessageView &)> &visit,
                        std::size_t read_ahead);
  std::size_t pop_from_ring(std::size_t max_messages,
                            const std::function<void(const MessageView &)> &visit,
                            std::size_t read_ahead);
  void release_space(std::uint64_t next, std::uint64_t messages);
  void move_to_backlog_if_holding(const Registration &me);

  // --- errors (waits.cpp) ---

  [[noreturn]] void throw_deadlock(std::uint64_t needed, std::uint64_t tail, std::uint64_t head,
                                   const std::vector<std::uint32_t> &holders) const;
  void require_can_ever_fit(std::uint64_t needed, std::size_t messages = 1) const;

  // --- the handle's checks (registration.cpp) ---

  void require_open() const;
  Registration registration() const;
  void require_still_ours(const Registration &me) const;

  Segment segment_;
  std::optional<std::chrono::milliseconds> inspect_lock_timeout_; // AttachOptions
  Sleepers sleepers_;
  SpinWait spin_wait_; // how long this handle's waits spin before they sleep
  ForkSafeMutex local_mutex_; // serialises this handle's threads around the cursor
  Registration registration_;
  std::string scratch_; // backs a field that wraps around the ring's end
  Backlog backlog_;     // under local_mutex_; read first by every pop
};

} // namespace pysyncq::shm
