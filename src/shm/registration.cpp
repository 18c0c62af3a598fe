// ShmQueue: joining and leaving the member table, reaping, unlinking, and the checks
// that a handle is open in this process (src/shm/shm_queue.hpp).
#include "core/record.hpp"
#include "platform/crash_point.hpp"
#include "platform/liveness.hpp"
#include "platform/system.hpp"
#include "shm/shm_queue.hpp"

namespace pysyncq::shm {

namespace {

// How much of a segment open() maps ahead (SharedMemory::prefault): all of a queue of up
// to 64 MiB. It costs about 1.4 ms a MiB on this VM (0.1 ms of it the kernel's part, the
// rest the reads a hypervisor that shadows page tables needs), so open() stays under ~0.1 s.
constexpr std::uint64_t kPrefaultBytes = std::uint64_t{64} << 20;

} // namespace

bool alive(int pid, std::uint64_t start_time) {
  return platform::is_alive(platform::ProcessIdentity{pid, start_time});
}

ShmQueue::~ShmQueue() {
  if (is_open_here()) {
    try {
      close();
    } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
  }
}

void ShmQueue::open(std::string_view sender) {
  std::lock_guard local(local_mutex());
  require_not_open_here();
  const platform::ProcessIdentity self = platform::current_process();
  std::string name = sender_or_pid(sender);
  if (name.size() > core::kMaxFieldBytes) {
    throw InvalidArgument("sender name of " + std::to_string(name.size()) + " bytes is too long");
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
  note_opened(std::move(name));
  // A member touches every page of the ring, lap after lap. Faulting them in one by one
  // on the first lap cost an 8-process echo of 4 KiB messages 570 µs a round trip on a
  // VM where a page fault exits to the hypervisor (40 µs once the ring had wrapped):
  // map them now, once. Up to kPrefaultBytes, so that a big queue's open stays quick.
  segment_.memory.prefault(kPrefaultBytes);
}

void ShmQueue::close() {
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
    note_closed();
    backlog_.clear(); // dropped, as the unread messages in the ring are
    // What we had not read is free now, and threads of ours asleep for a message
    // must find out that the registration is gone.
    sleepers_.wake(WaitFor::kSpace);
    sleepers_.wake(WaitFor::kMessage);
  }
}

std::uint32_t ShmQueue::reap() {
  std::uint32_t reaped = 0;
  with_inspect_lock([&] { reaped = segment_.members.reap_dead(alive); });
  if (reaped != 0) {
    sleepers_.wake(WaitFor::kSpace);
  }
  return reaped;
}

// Removes the name now, whoever is registered, and marks the segment so that its last
// close does not remove a newer queue that took the name. Under the lock, so that a
// last close (unlink_once) runs wholly before or after it.
void ShmQueue::unlink_now() {
  with_inspect_lock([&] { segment_.unlink_now(); });
}
// The same without the lock, for a lock that never comes free (syncq rm --force).
void ShmQueue::unlink_now_without_lock() { segment_.unlink_now(); }

void ShmQueue::require_open() const {
  if (require_open_here()) {
    // A second thread uses this registration now (see kSlotSharedByThreads). Relaxed:
    // read under the lock by deadlock checks, which tolerate seeing it late.
    registration_.slot->flags.fetch_or(core::kSlotSharedByThreads, std::memory_order_relaxed);
  }
  // Our slot stays ours while we live; this catches a registration removed from
  // outside (a process that shares our pid namespace can't be reaped while alive).
  if (!registration_.still_ours()) {
    throw NotOpen("the registration of this process in queue '" + segment_.name +
                  "' was removed (reaped or overwritten); open() it again");
  }
}

Registration ShmQueue::registration() const {
  std::lock_guard local(local_mutex());
  require_open();
  return registration_;
}

// Under the lock, in a wait: the slot may have been freed by a close of another thread
// of ours, but also reaped (a liveness check that went wrong) or overwritten by a
// writer to the segment; none of these is the waiter's doing, so none is blamed on it.
void ShmQueue::require_still_ours(const Registration &me) const {
  if (!me.still_ours()) {
    throw NotOpen("the registration of this process in queue '" + segment_.name +
                  "' was removed during the wait (closed, reaped or overwritten); open() "
                  "it again");
  }
}

} // namespace pysyncq::shm

namespace pysyncq {

std::unique_ptr<Queue::Impl> create_shm_queue(std::string_view name, const CreateOptions &options) {
  return std::make_unique<shm::ShmQueue>(Segment::create(name, options), std::nullopt);
}

std::unique_ptr<Queue::Impl> attach_shm_queue(std::string_view name, const AttachOptions &options) {
  return std::make_unique<shm::ShmQueue>(Segment::attach(name, options),
                                         options.inspect_lock_timeout);
}

} // namespace pysyncq
