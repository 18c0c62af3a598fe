#include "nats/fork_guard.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace pysyncq::nats {

namespace {

using namespace std::chrono_literals;

// The longest a fork waits for the other threads to sleep. nats.c's threads sleep again
// within microseconds of waking, unless the machine is too busy to run them; a thread of
// the program's own that never sleeps costs every fork this much.
constexpr auto kQuietWait = 250ms;

// SYNC POINT: gate. A callback counts itself in, then looks at the gate; a fork closes
// the gate, then looks at the count. Both sides store then load, sequentially consistent,
// so at least one of them sees the other: no callback runs past a closed gate unseen.
std::atomic<bool> gate_closed{false};
std::atomic<int> callbacks_inside{0};

// Reads /proc/self/task/TID/NAME into `buffer` (at most `size` - 1 bytes, then a NUL);
// false when the thread is gone.
bool read_task_file(const char *tid, const char *name, char *buffer, std::size_t size) noexcept {
  char path[96];
  if (std::snprintf(path, sizeof path, "/proc/self/task/%.20s/%s", tid, name) < 0) {
    return false;
  }
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  ssize_t length = 0;
  do {
    length = ::read(fd, buffer, size - 1);
  } while (length < 0 && errno == EINTR);
  ::close(fd);
  buffer[length > 0 ? length : 0] = '\0';
  return length > 0;
}

// Whether thread `tid` may be inside a critical section now: it is running or waiting to
// run ('R') and has run before, or it is in an uninterruptible wait ('D', such as mmap()
// under the allocator's lock). A sleeping thread ('S') is not (see the header), nor is a
// new thread that has not run yet (0 ns on the CPU in schedstat): it holds nothing.
bool may_be_busy(const char *tid) noexcept {
  char text[512];
  if (!read_task_file(tid, "stat", text, sizeof text)) {
    return false; // gone
  }
  const char *after_name = std::strrchr(text, ')'); // the name may hold ')'
  const char state = after_name != nullptr && after_name[1] == ' ' ? after_name[2] : '?';
  if (state == 'D') {
    return true;
  }
  if (state != 'R') {
    return false;
  }
  return !read_task_file(tid, "schedstat", text, sizeof text) ||
         std::strtoull(text, nullptr, 10) != 0;
}

// True when no thread but the caller may be inside a critical section of nats.c's.
bool other_threads_quiet() noexcept {
  DIR *tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    return true; // no /proc: nothing to wait for that we could see
  }
  const long self = static_cast<long>(::gettid());
  bool quiet = true;
  while (const dirent *entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9' ||
        std::strtol(entry->d_name, nullptr, 10) == self) {
      continue;
    }
    if (may_be_busy(entry->d_name)) {
      quiet = false;
      break;
    }
  }
  ::closedir(tasks);
  return quiet;
}

// In the thread that calls fork(), before it. Returns with the gate closed.
void before_fork() noexcept {
  gate_closed.store(true, std::memory_order_seq_cst);
  const auto give_up = std::chrono::steady_clock::now() + kQuietWait;
  while ((callbacks_inside.load(std::memory_order_seq_cst) != 0 || !other_threads_quiet()) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100us);
  }
}

void after_fork_in_parent() noexcept { gate_closed.store(false, std::memory_order_seq_cst); }

// The child has only the forking thread: no callback of the parent's runs here.
void after_fork_in_child() noexcept {
  callbacks_inside.store(0, std::memory_order_relaxed);
  gate_closed.store(false, std::memory_order_relaxed);
}

} // namespace

void guard_forks() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    (void)::pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child);
  });
}

CallbackGate::CallbackGate() noexcept {
  for (;;) {
    callbacks_inside.fetch_add(1, std::memory_order_seq_cst);
    if (!gate_closed.load(std::memory_order_seq_cst)) {
      return;
    }
    callbacks_inside.fetch_sub(1, std::memory_order_seq_cst);
    while (gate_closed.load(std::memory_order_relaxed)) { // a fork is being prepared
      std::this_thread::sleep_for(1ms);
    }
  }
}

CallbackGate::~CallbackGate() { callbacks_inside.fetch_sub(1, std::memory_order_seq_cst); }

} // namespace pysyncq::nats
