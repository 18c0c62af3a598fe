#include "platform/crash_point.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace pysyncq::platform {

void crash_point_reached(const char *name) noexcept {
  // Read each time: tests set the variable in a forked child just before the call.
  const char *target = std::getenv("PYSYNCQ_CRASH_AT");
  if (target != nullptr && std::strcmp(target, name) == 0) {
    ::kill(::getpid(), SIGKILL); // as a crash would end it: no handler, no cleanup
  }
}

} // namespace pysyncq::platform
