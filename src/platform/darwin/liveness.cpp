// Liveness on macOS, compiled only on Apple and written from Apple's documentation
// (sysctl(3), <sys/sysctl.h>); not yet run on a Mac. There is no /proc: sysctl with
// KERN_PROC_PID fills a kinfo_proc with the process's state and start time.
#include "platform/liveness.hpp"

#include "platform/syscall.hpp"

#include <cerrno>
#include <sys/proc.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <unistd.h>

namespace pysyncq::platform {

namespace {
constexpr std::uint64_t kMicrosecondsPerSecond = 1'000'000;

// False when no process has that pid (sysctl then returns a size of 0).
bool read_proc(int pid, kinfo_proc &info) noexcept {
  int mib[] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, pid};
  std::size_t size = sizeof info;
  return ::sysctl(mib, sizeof mib / sizeof mib[0], &info, &size, nullptr, 0) == 0 &&
         size == sizeof info;
}

// Microseconds since the epoch: unique per pid, since a pid is not reused within one.
std::uint64_t start_of(const kinfo_proc &info) noexcept {
  const timeval &start = info.kp_proc.p_starttime;
  return static_cast<std::uint64_t>(start.tv_sec) * kMicrosecondsPerSecond +
         static_cast<std::uint64_t>(start.tv_usec);
}
} // namespace

ProcessIdentity current_process() {
  ProcessIdentity self;
  self.pid = static_cast<int>(::getpid());
  kinfo_proc info{};
  if (!read_proc(self.pid, info)) {
    throw_syscall_error("sysctl", "KERN_PROC_PID of this process", errno != 0 ? errno : ESRCH);
  }
  self.start_time = start_of(info);
  return self;
}

std::optional<std::uint64_t> start_time_of(int pid) noexcept {
  kinfo_proc info{};
  if (pid <= 0 || !read_proc(pid, info)) {
    return std::nullopt;
  }
  if (info.kp_proc.p_stat == SZOMB) {
    return std::nullopt; // exited; only its parent's wait() is missing
  }
  return start_of(info);
}

} // namespace pysyncq::platform
