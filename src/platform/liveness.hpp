// Is a process still the one that registered? A pid alone is not enough (pids are
// reused), so a member is its pid plus its start time, the field that /proc gives
// every process and that a new process with the same pid cannot share.
#pragma once

#include <cstdint>

namespace pysyncq::platform {

struct ProcessIdentity {
  int pid = 0;
  std::uint64_t start_time = 0; // clock ticks after boot, /proc/PID/stat field 22
};

/// The calling process.
ProcessIdentity current_process();

/// False when the process has exited (a zombie counts as exited), or its pid now
/// belongs to another process. Never throws.
bool is_alive(const ProcessIdentity &identity) noexcept;

} // namespace pysyncq::platform

namespace pysyncq::platform {

/// A number that changes in a child after every fork() (a pthread_atfork handler bumps
/// it), so a handle can tell that it was opened by its parent without a getpid()
/// system call on every operation.
std::uint64_t fork_generation() noexcept;

} // namespace pysyncq::platform
