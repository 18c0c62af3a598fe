// SharedMemory on POSIX systems (Linux, macOS): shm_open, fstat, mmap. What differs
// between them, sizing a new segment and finding it by name, is in shm_os.hpp.
#include "platform/shm.hpp"

#include "platform/posix/shm_os.hpp"
#include "platform/syscall.hpp"
#include "platform/system.hpp"

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace pysyncq::platform {

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
    reserve_segment_bytes(fd, bytes, name);
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

void SharedMemory::map(std::uint64_t bytes) {
  unmap();
  void *address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (address == MAP_FAILED) {
    throw_syscall_error("mmap", name_ + ", " + std::to_string(bytes) + " bytes", errno);
  }
  data_ = static_cast<std::byte *>(address);
  mapped_bytes_ = bytes;
}

void SharedMemory::prefault(std::uint64_t bytes) const noexcept {
#ifdef MADV_POPULATE_WRITE
  const std::uint64_t length = std::min(bytes, mapped_bytes_);
  // Linux 5.14+; an older kernel says EINVAL, and the pages fault in when touched.
  if (::madvise(data_, length, MADV_POPULATE_WRITE) != 0) {
    return; // not mapped (or shrunk by a hostile writer: then touching would be SIGBUS)
  }
  // The kernel has mapped the pages, but a hypervisor that shadows the guest's page
  // tables (this project's VM) maps each one only when this process first touches it,
  // for about 5 µs: a 64 KiB message cost ~100 µs to copy on the ring's first lap and
  // ~4 µs on later ones (docs/design.md, "Lifecycle races, decided"). One read a page
  // makes that happen now. On hardware that walks the guest's tables itself it is a
  // cache miss a page.
  const std::uint64_t page = page_size();
  for (std::uint64_t offset = 0; offset < length; offset += page) {
    // Relaxed atomic load: other members write these bytes concurrently, and the value
    // is not used, only the access.
    (void)std::atomic_ref<std::byte>(data_[offset]).load(std::memory_order_relaxed);
  }
#else
  (void)bytes; // macOS has no such call
#endif
}

} // namespace pysyncq::platform
