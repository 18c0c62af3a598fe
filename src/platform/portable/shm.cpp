// Shared memory as macOS allows it (tested on Linux as the "portable" platform): names of
// at most kMaxShmNameBytes, a segment sized by ftruncate exactly once (macOS refuses a
// second), no posix_fallocate, and no file system path to stat a segment by.
#include "platform/posix/shm_os.hpp"
#include "platform/shm.hpp"
#include "platform/syscall.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pysyncq::platform {

std::string shm_path_for(std::string_view name) {
  std::string queue = queue_name_for(name);
  if (queue.size() <= kMaxShmNameBytes) {
    return "/" + queue;
  }
  return "/" + hashed_segment_name(queue);
}

void reserve_segment_bytes(int fd, std::uint64_t bytes, const std::string &name) {
  // Exactly once: macOS sizes a shared-memory object only once. Its pages are taken on
  // first touch; where memory runs short a later write fails with SIGBUS, as documented.
  retry_on_eintr("ftruncate", name + ", " + std::to_string(bytes) + " bytes",
                 [&] { return ::ftruncate(fd, static_cast<off_t>(bytes)); });
}

bool SharedMemory::name_refers_here() const noexcept {
  // No path to stat: open the name again and compare the two objects.
  const int fd = ::shm_open(name_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  struct stat mine {};
  struct stat named {};
  const bool same = ::fstat(fd_, &mine) == 0 && ::fstat(fd, &named) == 0 &&
                    mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
  ::close(fd);
  return same;
}

} // namespace pysyncq::platform
