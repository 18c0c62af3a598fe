// Crash points on Windows: TerminateProcess, the nearest to SIGKILL (no handler, no
// cleanup; the kernel closes every handle, abandoning a held mutex). The exit code is
// kCrashExitCode, which the tests' child runner reports as -SIGKILL (9).
#include "platform/crash_point.hpp"

#include <windows.h>

#include <cstdlib>
#include <cstring>

namespace pysyncq::platform {

namespace {
constexpr UINT kCrashExitCode = 137; // 128 + SIGKILL, as a POSIX shell would report it
} // namespace

void crash_point_reached(const char *name) noexcept {
  const char *target = std::getenv("PYSYNCQ_CRASH_AT");
  if (target != nullptr && std::strcmp(target, name) == 0) {
    ::TerminateProcess(::GetCurrentProcess(), kCrashExitCode);
  }
}

} // namespace pysyncq::platform
