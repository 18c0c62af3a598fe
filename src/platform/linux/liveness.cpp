// Liveness on Linux: /proc/PID/stat holds each process's state and start time.
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

// /proc/PID/stat fields (proc(5)), counted from 1.
constexpr int kStateField = 3;
constexpr int kStartTimeField = 22;
// "/proc/" + the longest pid (10 digits of a 32-bit int, with sign) + "/stat" + NUL: 23.
constexpr std::size_t kStatPathBytes = 32;
// Enough for fields 1..22, the only ones read: a pid, a command name of at most 16 bytes
// (TASK_COMM_LEN) in parentheses and 20 numbers of at most 20 digits, with their spaces,
// take under 500 bytes. The rest of a longer line is cut off unread.
constexpr std::size_t kStatLineBytes = 1024;

struct StatFields {
  char state = '?';
  std::uint64_t start_time = 0;
};

// Reads state (field 3) and start time (field 22) of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
bool read_stat(int pid, StatFields &out) noexcept {
  char path[kStatPathBytes];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buffer[kStatLineBytes];
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
  for (int field = kStateField; field < kStartTimeField; ++field) {
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

std::optional<std::uint64_t> start_time_of(int pid) noexcept {
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return std::nullopt; // EPERM means it exists under another user: look further
  }
  StatFields fields;
  if (!read_stat(pid, fields)) {
    return std::nullopt; // vanished between the two looks
  }
  if (fields.state == 'Z' || fields.state == 'X') {
    return std::nullopt; // exited; only its parent's wait() is missing
  }
  return fields.start_time;
}

} // namespace pysyncq::platform
