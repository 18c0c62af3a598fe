#include "platform/system.hpp"

#include <unistd.h>

namespace pysyncq::platform {

std::uint64_t page_size() noexcept {
  // sysconf cannot fail for _SC_PAGESIZE on Linux or macOS.
  return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

int current_pid() noexcept { return static_cast<int>(::getpid()); }

unsigned effective_user_id() noexcept { return static_cast<unsigned>(::geteuid()); }

} // namespace pysyncq::platform
