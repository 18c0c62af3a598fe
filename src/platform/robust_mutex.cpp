#include "platform/robust_mutex.hpp"

#include "platform/syscall.hpp"

#include <pthread.h>

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

RobustLock::RobustLock(std::byte *storage) : storage_(storage) {
  const int rc = pthread_mutex_lock(as_mutex(storage_));
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
