#include "platform/robust_mutex.hpp"

#include "platform/syscall.hpp"

#include <pthread.h>
#include <time.h>

#include <new>

namespace pysyncq::platform {

namespace {
pthread_mutex_t *as_mutex(std::byte *storage) noexcept {
  return std::launder(reinterpret_cast<pthread_mutex_t *>(storage));
}
void check(int rc, const char *call) {
  if (rc != 0) {
    throw_syscall_error(call, "queue lock", rc);
  }
}
} // namespace

std::size_t robust_mutex_bytes() noexcept { return sizeof(pthread_mutex_t); }

void robust_mutex_init(std::byte *storage) {
  pthread_mutexattr_t attributes;
  check(pthread_mutexattr_init(&attributes), "pthread_mutexattr_init");
  check(pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED),
        "pthread_mutexattr_setpshared");
  check(pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST),
        "pthread_mutexattr_setrobust");
  auto *mutex = new (storage) pthread_mutex_t;
  const int rc = pthread_mutex_init(mutex, &attributes);
  pthread_mutexattr_destroy(&attributes);
  check(rc, "pthread_mutex_init");
}

namespace {
// The longest one sleep on the lock lasts before it looks at the lock word again.
//
// Why not sleep until woken: when a holder dies, the kernel marks the word "owner died"
// and wakes exactly one waiter. If that waiter is killed before it takes the lock
// (a SIGKILL between its wake-up and its compare-and-swap), nobody wakes the others: the
// word says "free, owner died", yet they sleep on it for ever. The kernel rescues this
// race only for a word of 0, not for an owner-died word. A waiter that wakes on its own
// now and then sees the free word and takes the lock. The uncontended path is the same
// single compare-and-swap; a waiter pays one extra futex call per interval.
constexpr long kLockRecheckNs = 10'000'000; // 10 ms

timespec monotonic_after(long ns) noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  now.tv_nsec += ns;
  now.tv_sec += now.tv_nsec / 1'000'000'000;
  now.tv_nsec %= 1'000'000'000;
  return now;
}
} // namespace

RobustLock::RobustLock(std::byte *storage) : storage_(storage) {
  int rc = ETIMEDOUT;
  while (rc == ETIMEDOUT) {
    const timespec until = monotonic_after(kLockRecheckNs);
    rc = pthread_mutex_clocklock(as_mutex(storage_), CLOCK_MONOTONIC, &until);
  }
  if (rc == EOWNERDEAD) {
    owner_died_ = true;
    return;
  }
  // ENOTRECOVERABLE cannot happen: every holder that saw EOWNERDEAD marks the lock
  // consistent before unlocking, and one that dies first passes EOWNERDEAD on.
  check(rc, "pthread_mutex_lock");
}

void RobustLock::mark_consistent() {
  check(pthread_mutex_consistent(as_mutex(storage_)), "pthread_mutex_consistent");
  owner_died_ = false;
}

RobustLock::~RobustLock() {
  if (owner_died_) {
    // An exception left the repair unfinished; consistent is still right, because every
    // repair step is idempotent and the next holder has nothing to learn from the note.
    pthread_mutex_consistent(as_mutex(storage_));
  }
  pthread_mutex_unlock(as_mutex(storage_));
}

} // namespace pysyncq::platform
