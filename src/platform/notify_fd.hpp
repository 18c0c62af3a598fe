// The object an event loop watches for a queue handle (src/notifier.cpp): one end that
// becomes readable when signalled, and stays readable until drained.
//
// Per OS (chosen by CMake): linux/notify_fd.cpp is an eventfd; posix/notify_fd.cpp is a
// pipe (macOS has no eventfd).
#pragma once

namespace pysyncq::platform {

class NotifyFd {
public:
  /// Throws SyscallError when the OS refuses the descriptor(s).
  NotifyFd();
  NotifyFd(const NotifyFd &) = delete;
  NotifyFd &operator=(const NotifyFd &) = delete;
  ~NotifyFd();

  /// The descriptor to watch for readability; -1 after close().
  int fd() const noexcept { return read_fd_; }
  /// Makes fd() readable. Never blocks, never fails on an open NotifyFd.
  void signal() const noexcept;
  /// Makes fd() not readable until the next signal(). Never blocks.
  void drain() const noexcept;
  /// Closes the descriptor(s) now (a forked child abandoning its parent's notifier).
  void close() noexcept;

private:
  int read_fd_ = -1;
  int write_fd_ = -1; // equal to read_fd_ where one descriptor does both (eventfd)
};

} // namespace pysyncq::platform
