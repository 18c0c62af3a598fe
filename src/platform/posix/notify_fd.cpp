// NotifyFd where there is no eventfd (macOS; the portable build on Linux): a pipe. The
// read end is watched; signal() writes a byte, drain() reads all there are.
#include "platform/notify_fd.hpp"

#include "platform/syscall.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace pysyncq::platform {

namespace {
void set_flags(int fd) {
  // Both ends non-blocking (a full pipe means "readable already": a lost byte is fine)
  // and close-on-exec. pipe2() would do it in one call, but macOS has no pipe2.
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    throw_syscall_error("fcntl", "queue notifier pipe", errno);
  }
}
// Bytes read per read() in drain(), which reads until a short read. The pipe holds one
// byte per signal() since the last drain, and the notifier signals once per armed wait,
// so one read empties it in practice.
constexpr std::size_t kDrainBytes = 64;
} // namespace

NotifyFd::NotifyFd() {
  int ends[2] = {-1, -1};
  if (::pipe(ends) != 0) {
    throw_syscall_error("pipe", "queue notifier", errno);
  }
  read_fd_ = ends[0];
  write_fd_ = ends[1];
  try {
    set_flags(read_fd_);
    set_flags(write_fd_);
  } catch (...) {
    close();
    throw;
  }
}

NotifyFd::~NotifyFd() { close(); }

void NotifyFd::close() noexcept {
  if (read_fd_ >= 0) {
    ::close(read_fd_);
  }
  if (write_fd_ >= 0) {
    ::close(write_fd_);
  }
  read_fd_ = write_fd_ = -1;
}

void NotifyFd::signal() const noexcept {
  const char one = 1;
  // EAGAIN (a full pipe) is fine: the read end is readable already.
  [[maybe_unused]] const ssize_t written = ::write(write_fd_, &one, sizeof one);
}

void NotifyFd::drain() const noexcept {
  char bytes[kDrainBytes];
  while (::read(read_fd_, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes)) {
  } // a short read or EAGAIN: empty
}

} // namespace pysyncq::platform
