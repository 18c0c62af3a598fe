// The Linux parts of shared memory: segments are files of the tmpfs /dev/shm, which can
// reserve their pages at creation and be stat'ed by name. Listing: linux/shm_list.cpp.
#include "platform/posix/shm_os.hpp"
#include "platform/shm.hpp"
#include "platform/syscall.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pysyncq::platform {

std::string shm_path_for(std::string_view name) {
  return "/" + queue_name_for(name); // /dev/shm takes every valid name as it is
}

void reserve_segment_bytes(int fd, std::uint64_t bytes, const std::string &name) {
  // posix_fallocate, not ftruncate: it takes the pages now, so a full /dev/shm fails here
  // and not with SIGBUS on a later write. It returns the error instead of setting errno.
  int rc = 0;
  do {
    rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  } while (rc == EINTR);
  if (rc != 0) {
    throw_syscall_error("posix_fallocate", name + ", " + std::to_string(bytes) + " bytes", rc);
  }
}

bool SharedMemory::name_refers_here() const noexcept {
  struct stat mine {};
  struct stat named {};
  if (::fstat(fd_, &mine) != 0 || ::stat(("/dev/shm" + name_).c_str(), &named) != 0) {
    return false;
  }
  return mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
}

} // namespace pysyncq::platform
