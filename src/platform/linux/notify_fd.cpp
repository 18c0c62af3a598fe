// NotifyFd on Linux: one eventfd, a counter that is readable while non-zero.
#include "platform/notify_fd.hpp"

#include "platform/syscall.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

namespace pysyncq::platform {

NotifyFd::NotifyFd() {
  read_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (read_fd_ < 0) {
    throw_syscall_error("eventfd", "queue notifier", errno);
  }
  write_fd_ = read_fd_;
}

NotifyFd::~NotifyFd() { close(); }

void NotifyFd::close() noexcept {
  if (read_fd_ >= 0) {
    ::close(read_fd_);
  }
  read_fd_ = write_fd_ = -1;
}

void NotifyFd::signal() const noexcept {
  const std::uint64_t one = 1;
  // Cannot block (the counter is far from overflow) and cannot fail on a valid eventfd.
  [[maybe_unused]] const ssize_t written = ::write(write_fd_, &one, sizeof one);
}

void NotifyFd::drain() const noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t got = ::read(read_fd_, &count, sizeof count); // EAGAIN: empty
}

} // namespace pysyncq::platform
