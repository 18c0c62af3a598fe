// The queue lock on Linux: a process-shared robust pthread mutex in the lock line. The
// kernel's robust-futex list tells the next locker (EOWNERDEAD) when a holder died.
#include "platform/robust_mutex.hpp"

#include "platform/syscall.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_THREAD__) // gcc
#define PYSYNCQ_UNDER_TSAN 1
#elif defined(__has_feature) // clang
#define PYSYNCQ_UNDER_TSAN __has_feature(thread_sanitizer)
#else
#define PYSYNCQ_UNDER_TSAN 0
#endif

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

std::uint32_t robust_mutex_kind() noexcept { return kLockKindRobustPthread; }

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
// now and then sees the free word and takes the lock. A waiter pays one extra futex
// call per interval. 10 ms: the rescue, needed only after a kill at that exact moment,
// is then still quick, and a waiter's cost (100 calls a second, only while it waits) is
// invisible beside the holder's work.
constexpr long kLockRecheckNs = 10'000'000; // 10 ms

constexpr long kNsPerSecond = 1'000'000'000; // timespec's tv_nsec stays below this

timespec clock_after(clockid_t clock, long ns) noexcept {
  timespec now{};
  clock_gettime(clock, &now);
  now.tv_nsec += ns;
  now.tv_sec += now.tv_nsec / kNsPerSecond;
  now.tv_nsec %= kNsPerSecond;
  return now;
}

// One bounded sleep on the lock. ThreadSanitizer (gcc 12) does not intercept
// pthread_mutex_clocklock and would then take every later unlock for a bug, so its
// builds use timedlock; elsewhere the monotonic clock keeps a clock jump from
// stretching the sleep.
int lock_or_time_out(pthread_mutex_t *mutex) noexcept {
#if PYSYNCQ_UNDER_TSAN
  const timespec until = clock_after(CLOCK_REALTIME, kLockRecheckNs);
  return pthread_mutex_timedlock(mutex, &until);
#else
  const timespec until = clock_after(CLOCK_MONOTONIC, kLockRecheckNs);
  return pthread_mutex_clocklock(mutex, CLOCK_MONOTONIC, &until);
#endif
}
} // namespace

RobustLock::RobustLock(std::byte *storage) : storage_(storage) {
  // Uncontended: one compare-and-swap, no clock read.
  int rc = pthread_mutex_trylock(as_mutex(storage_));
  while (rc == EBUSY || rc == ETIMEDOUT) {
    rc = lock_or_time_out(as_mutex(storage_));
  }
  if (rc == EOWNERDEAD) {
    owner_died_ = true;
    return;
  }
  // ENOTRECOVERABLE cannot happen: every holder that saw EOWNERDEAD marks the lock
  // consistent before unlocking, and one that dies first passes EOWNERDEAD on.
  check(rc, "pthread_mutex_lock");
}

RobustLock::RobustLock(std::byte *storage, Deadline deadline) : storage_(storage) {
  int rc = pthread_mutex_trylock(as_mutex(storage_));
  while ((rc == EBUSY || rc == ETIMEDOUT) && !deadline.has_passed()) {
    rc = lock_or_time_out(as_mutex(storage_));
  }
  if (rc == EBUSY || rc == ETIMEDOUT) {
    held_ = false;
    return;
  }
  if (rc == EOWNERDEAD) {
    owner_died_ = true;
    return;
  }
  check(rc, "pthread_mutex_lock");
}

int robust_mutex_holder(const std::byte *storage) noexcept {
  // glibc keeps the holder's thread id in the lock word of a robust mutex (the kernel's
  // robust-futex protocol: tid, plus the FUTEX_WAITERS and FUTEX_OWNER_DIED bits).
  // Relaxed: a snapshot for a message, ordered with nothing.
  constexpr std::uint32_t kTidMask = FUTEX_TID_MASK; // without OWNER_DIED and WAITERS
  auto *mutex = const_cast<pthread_mutex_t *>(
      std::launder(reinterpret_cast<const pthread_mutex_t *>(storage)));
  const auto word = static_cast<std::uint32_t>(
      std::atomic_ref<int>(mutex->__data.__lock).load(std::memory_order_relaxed));
  return static_cast<int>(word & kTidMask);
}

void RobustLock::mark_consistent() {
  check(pthread_mutex_consistent(as_mutex(storage_)), "pthread_mutex_consistent");
  owner_died_ = false;
}

RobustLock::~RobustLock() {
  if (!held_) {
    return;
  }
  if (owner_died_) {
    // An exception left the repair unfinished; consistent is still right, because every
    // repair step is idempotent and the next holder has nothing to learn from the note.
    pthread_mutex_consistent(as_mutex(storage_));
  }
  pthread_mutex_unlock(as_mutex(storage_));
}

} // namespace pysyncq::platform
