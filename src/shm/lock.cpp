// ShmQueue: the cold paths of the queue lock (src/shm/shm_queue.hpp has the rest).
#include "shm/shm_queue.hpp"

#include <cstdio>

namespace pysyncq::shm {

void ShmQueue::throw_lock_held(std::chrono::steady_clock::time_point started) const {
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const int holder = platform::robust_mutex_holder(header().lock_storage);
  char seconds[32]; // "%.1f" of a double: far fewer than 32 characters for any wait
  std::snprintf(seconds, sizeof seconds, "%.1f", waited);
  throw LockHeld("queue '" + segment_.name + "': lock held by pid " + std::to_string(holder) +
                     " for " + seconds + " s (at least; gave up waiting)",
                 holder, waited);
}

void ShmQueue::repair_after_crash(platform::RobustLock &lock) const {
  header().lock_recoveries.fetch_add(1, std::memory_order_relaxed); // stats only
  segment_.members.repair_after_crash(); // first: reaping relies on the counts
  segment_.members.reap_dead(alive);
  lock.mark_consistent();
}

} // namespace pysyncq::shm
