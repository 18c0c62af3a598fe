// list_shm_entries() on macOS, compiled only on Apple: macOS keeps no directory of POSIX
// shared-memory objects (there is no /dev/shm), so queues cannot be listed. `syncq ls`
// and list_queues() say so (README, platform table).
#include "platform/shm.hpp"
#include "platform/syscall.hpp"

#include <cerrno>

namespace pysyncq::platform {

std::vector<ShmEntry> list_shm_entries(std::size_t /*prefix_bytes*/) {
  throw_syscall_error("list_shm_entries",
                      "macOS keeps no list of shared-memory objects; open queues by name",
                      ENOTSUP);
}

} // namespace pysyncq::platform
