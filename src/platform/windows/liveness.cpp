// Liveness on Windows: a process is its pid plus its creation time (GetProcessTimes, in
// 100 ns units since 1601), which a later process with the same pid cannot share. A
// process that has exited but whose object some handle keeps open counts as exited.
// Windows has no fork(): fork_generation() is always 0.
#include "platform/liveness.hpp"

#include "platform/windows/win_error.hpp"

#include <windows.h>

namespace pysyncq::platform {

namespace {

std::optional<std::uint64_t> creation_time(HANDLE process) noexcept {
  FILETIME created{};
  FILETIME exited{};
  FILETIME kernel{};
  FILETIME user{};
  if (::GetProcessTimes(process, &created, &exited, &kernel, &user) == 0) {
    return std::nullopt;
  }
  return (static_cast<std::uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

} // namespace

ProcessIdentity current_process() {
  ProcessIdentity self;
  self.pid = static_cast<int>(::GetCurrentProcessId());
  const auto created = creation_time(::GetCurrentProcess());
  if (!created) {
    throw_windows_error("GetProcessTimes", "this process", ::GetLastError());
  }
  self.start_time = *created;
  return self;
}

std::optional<std::uint64_t> start_time_of(int pid) noexcept {
  if (pid <= 0) {
    return std::nullopt;
  }
  HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                                 static_cast<DWORD>(pid));
  if (process == nullptr) {
    // No such process, or one we may not look at (another user's): the second cannot be
    // a member of a queue in our session's namespace, so both count as not ours.
    return std::nullopt;
  }
  std::optional<std::uint64_t> created;
  if (::WaitForSingleObject(process, 0) == WAIT_TIMEOUT) { // still running
    created = creation_time(process);
  }
  ::CloseHandle(process);
  return created;
}

std::uint64_t fork_generation() noexcept { return 0; }

} // namespace pysyncq::platform
