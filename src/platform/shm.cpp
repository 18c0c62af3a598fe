#include "platform/shm.hpp"

#include "platform/syscall.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <utility>

namespace pysyncq::platform {

std::string shm_path_for(std::string_view name) {
  if (!name.empty() && name.front() == '/') {
    name.remove_prefix(1); // accept "/jobs" as multiprocessing.shared_memory does
  }
  if (name.empty()) {
    throw InvalidArgument("queue name is empty");
  }
  if (name.size() > 254) {
    throw InvalidArgument("queue name is " + std::to_string(name.size()) +
                          " bytes long; at most 254 are allowed");
  }
  if (name.find('/') != std::string_view::npos) {
    throw InvalidArgument("queue name '" + std::string(name) + "' contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    throw InvalidArgument("queue name contains a NUL byte");
  }
  if (name == "." || name == "..") {
    throw InvalidArgument("queue name '" + std::string(name) + "' is not a file name");
  }
  return "/" + std::string(name);
}

SharedMemory::SharedMemory(std::string name, int fd) noexcept : name_(std::move(name)), fd_(fd) {}

SharedMemory::SharedMemory(SharedMemory &&other) noexcept
    : name_(std::move(other.name_)), fd_(std::exchange(other.fd_, -1)),
      data_(std::exchange(other.data_, nullptr)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)) {}

SharedMemory &SharedMemory::operator=(SharedMemory &&other) noexcept {
  if (this != &other) {
    unmap();
    if (fd_ >= 0) {
      ::close(fd_);
    }
    name_ = std::move(other.name_);
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() {
  unmap();
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void SharedMemory::unmap() noexcept {
  if (data_ != nullptr) {
    ::munmap(data_, mapped_bytes_);
    data_ = nullptr;
    mapped_bytes_ = 0;
  }
}

SharedMemory SharedMemory::create(const std::string &name, std::uint64_t bytes, unsigned mode) {
  const int fd = retry_on_eintr("shm_open", name, [&] {
    return ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                      static_cast<mode_t>(mode));
  });
  SharedMemory segment(name, fd);
  try {
    // posix_fallocate returns the error instead of setting errno.
    int rc = 0;
    do {
      rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    } while (rc == EINTR);
    if (rc != 0) {
      throw_syscall_error("posix_fallocate", name + ", " + std::to_string(bytes) + " bytes", rc);
    }
    segment.map(bytes);
  } catch (...) {
    ::shm_unlink(name.c_str()); // we created it: leave nothing behind
    throw;
  }
  return segment;
}

SharedMemory SharedMemory::open(const std::string &name) {
  // O_NONBLOCK: opening a FIFO read-write does not block on Linux, but other special
  // files might; on a regular file it changes nothing (mmap and fstat ignore it).
  const int fd = retry_on_eintr("shm_open", name, [&] {
    return ::shm_open(name.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  });
  SharedMemory segment(name, fd);
  struct stat info {};
  retry_on_eintr("fstat", name, [&] { return ::fstat(fd, &info); });
  if (!S_ISREG(info.st_mode)) {
    throw NotAQueue("shared memory '" + name.substr(1) +
                    "' is not a pysyncq queue: it is not a regular file");
  }
  return segment;
}

bool SharedMemory::unlink(const std::string &name) {
  if (::shm_unlink(name.c_str()) == 0) {
    return true;
  }
  if (errno == ENOENT) {
    return false;
  }
  throw_syscall_error("shm_unlink", name, errno);
}

unsigned SharedMemory::owner_uid() const {
  struct stat info {};
  retry_on_eintr("fstat", name_, [&] { return ::fstat(fd_, &info); });
  return static_cast<unsigned>(info.st_uid);
}

std::uint64_t SharedMemory::current_size() const {
  struct stat info {};
  retry_on_eintr("fstat", name_, [&] { return ::fstat(fd_, &info); });
  return static_cast<std::uint64_t>(info.st_size);
}

bool SharedMemory::name_refers_here() const noexcept {
  struct stat mine {};
  struct stat named {};
  if (::fstat(fd_, &mine) != 0 || ::stat(("/dev/shm" + name_).c_str(), &named) != 0) {
    return false;
  }
  return mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
}

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

void SharedMemory::map(std::uint64_t bytes) {
  unmap();
  void *address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (address == MAP_FAILED) {
    throw_syscall_error("mmap", name_ + ", " + std::to_string(bytes) + " bytes", errno);
  }
  data_ = static_cast<std::byte *>(address);
  mapped_bytes_ = bytes;
}

} // namespace pysyncq::platform
