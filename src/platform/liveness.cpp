#include "platform/liveness.hpp"

#include "platform/syscall.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace pysyncq::platform {

namespace {

struct StatFields {
  char state = '?';
  std::uint64_t start_time = 0;
};

// Reads state (field 3) and start time (field 22) of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
bool read_stat(int pid, StatFields &out) noexcept {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buffer[1024];
  ssize_t length = 0;
  do {
    length = ::read(fd, buffer, sizeof buffer - 1);
  } while (length < 0 && errno == EINTR);
  ::close(fd);
  if (length <= 0) {
    return false;
  }
  buffer[length] = '\0';
  char *after_name = std::strrchr(buffer, ')');
  if (after_name == nullptr || after_name[1] != ' ') {
    return false;
  }
  char *cursor = after_name + 2; // field 3
  out.state = *cursor;
  for (int field = 3; field < 22; ++field) {
    cursor = std::strchr(cursor, ' ');
    if (cursor == nullptr) {
      return false;
    }
    ++cursor;
  }
  out.start_time = std::strtoull(cursor, nullptr, 10);
  return true;
}

} // namespace

ProcessIdentity current_process() {
  ProcessIdentity self;
  self.pid = static_cast<int>(::getpid());
  StatFields fields;
  if (!read_stat(self.pid, fields)) {
    throw_syscall_error("read", "/proc/self/stat", errno != 0 ? errno : EIO);
  }
  self.start_time = fields.start_time;
  return self;
}

bool is_alive(const ProcessIdentity &identity) noexcept {
  if (identity.pid <= 0) {
    return false;
  }
  if (::kill(identity.pid, 0) != 0 && errno == ESRCH) {
    return false; // EPERM means it exists under another user: look further
  }
  StatFields fields;
  if (!read_stat(identity.pid, fields)) {
    return false; // vanished between the two looks
  }
  if (fields.state == 'Z' || fields.state == 'X') {
    return false; // exited; only its parent's wait() is missing
  }
  return fields.start_time == identity.start_time;
}

} // namespace pysyncq::platform

#include <atomic>
#include <pthread.h>

namespace pysyncq::platform {

namespace {
// Relaxed: read and written by the one thread that exists in a fresh child, and read
// by handles in the same process only.
std::atomic<std::uint64_t> fork_counter{0};
void bump_fork_counter() noexcept { fork_counter.fetch_add(1, std::memory_order_relaxed); }
const int atfork_registered = ::pthread_atfork(nullptr, nullptr, &bump_fork_counter);
} // namespace

std::uint64_t fork_generation() noexcept {
  (void)atfork_registered;
  return fork_counter.load(std::memory_order_relaxed);
}

} // namespace pysyncq::platform
