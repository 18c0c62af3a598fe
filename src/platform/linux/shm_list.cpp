// list_shm_entries() where segments are files of /dev/shm: Linux, with either lock.
#include "platform/shm.hpp"
#include "platform/syscall.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pysyncq::platform {

namespace {

// Reads the entry `name` of the directory `directory_fd` as list_shm_entries() says.
ShmEntry look_at(int directory_fd, std::string name, std::size_t prefix_bytes) {
  ShmEntry entry;
  entry.name = std::move(name);
  int fd = -1;
  do {
    fd = ::openat(directory_fd, entry.name.c_str(),
                  O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // ELOOP: O_NOFOLLOW met a symbolic link. ENXIO: a socket, or a device with no driver.
    entry.kind = errno == ELOOP || errno == ENXIO ? ShmEntry::Kind::kNotRegular
                                                  : ShmEntry::Kind::kUnreadable;
    return entry;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    return entry; // kUnreadable
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd); // a FIFO opened O_NONBLOCK: never read, never waited on
    entry.kind = ShmEntry::Kind::kNotRegular;
    return entry;
  }
  entry.kind = ShmEntry::Kind::kRegular;
  entry.owner_uid = static_cast<unsigned>(info.st_uid);
  entry.prefix.assign(prefix_bytes, '\0');
  ssize_t got = 0;
  do {
    got = ::pread(fd, entry.prefix.data(), prefix_bytes, 0);
  } while (got < 0 && errno == EINTR);
  ::close(fd);
  entry.prefix.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return entry;
}

} // namespace

std::vector<ShmEntry> list_shm_entries(std::size_t prefix_bytes) {
  std::vector<ShmEntry> entries;
  DIR *directory = ::opendir("/dev/shm");
  if (directory == nullptr) {
    throw_syscall_error("opendir", "/dev/shm", errno);
  }
  while (const dirent *entry = ::readdir(directory)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    // d_type spares an open of what is plainly no file; DT_UNKNOWN (some file systems)
    // and DT_REG go on to open + fstat, which decides.
    if (entry->d_type != DT_UNKNOWN && entry->d_type != DT_REG) {
      entries.push_back(ShmEntry{name, ShmEntry::Kind::kNotRegular, {}, 0});
      continue;
    }
    entries.push_back(look_at(::dirfd(directory), name, prefix_bytes));
  }
  ::closedir(directory);
  return entries;
}

} // namespace pysyncq::platform
