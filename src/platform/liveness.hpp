// Is a process still the one that registered? A pid alone is not enough (pids are
// reused), so a member is its pid plus its start time, which the OS keeps for every
// process and which a new process with the same pid cannot share.
//
// Per OS (chosen by CMake): linux/liveness.cpp reads /proc/PID/stat; darwin/liveness.cpp
// asks sysctl(KERN_PROC_PID). is_alive() and the fork counter are the same everywhere.
#pragma once

#include <cstdint>
#include <optional>

namespace pysyncq::platform {

struct ProcessIdentity {
  int pid = 0;
  // Linux: clock ticks after boot (/proc/PID/stat field 22). macOS: microseconds since
  // the epoch (kp_proc.p_starttime). Only ever compared with values of the same machine.
  std::uint64_t start_time = 0;
};

/// The calling process. Throws SyscallError when the OS will not say.
ProcessIdentity current_process();

/// The start time of process `pid` while it runs; nullopt when no such process exists or
/// it has exited (a zombie counts as exited). Never throws.
std::optional<std::uint64_t> start_time_of(int pid) noexcept;

/// False when the process has exited (a zombie counts as exited), or its pid now
/// belongs to another process. Never throws.
bool is_alive(const ProcessIdentity &identity) noexcept;

/// A number that changes in a child after every fork() (a pthread_atfork handler bumps
/// it), so a handle can tell that it was opened by its parent without a getpid()
/// system call on every operation.
std::uint64_t fork_generation() noexcept;

} // namespace pysyncq::platform
