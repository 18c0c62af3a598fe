// A file descriptor that an event loop (asyncio, epoll) can watch for a queue: it becomes
// readable when the member may have a message, or may have space for an append.
//
// One helper thread per handle (not per waiter) does the waiting: while armed it sleeps
// in the queue's own futex wait, and when the wait ends it signals the platform's
// NotifyFd (an eventfd on Linux, a pipe on macOS: platform/notify_fd.hpp). While
// disarmed it sleeps on a condition variable, so an idle handle costs no CPU and the
// append/pop hot path is unchanged. A killed writer cannot leave a watcher hung: the
// helper sleeps in the same bounded waits as a blocking call (docs/design.md, "Event
// loops").
#pragma once

#include "backend.hpp"
#include "platform/notify_fd.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace pysyncq {

class Notifier {
public:
  explicit Notifier(Queue::Impl &impl);
  Notifier(const Notifier &) = delete;
  Notifier &operator=(const Notifier &) = delete;
  ~Notifier();

  int fd() const noexcept { return wake_.fd(); }

  /// True in a forked child: the object was copied, its thread was not. Such a
  /// notifier must be abandoned, never destroyed: its condition variable still counts
  /// the parent's waiting thread, and destroying it would wait for ever.
  bool inherited() const noexcept;
  /// Closes the fd of an inherited notifier; the caller then leaks the object.
  void abandon() noexcept;
  /// Clears the fd, then makes it readable once the member has an unread message
  /// (perhaps a screened one) or has been closed. Adds to an arm_for_space() still pending.
  void arm_for_message();
  /// Clears the fd, then makes it readable once `needed_bytes` are free, or once the
  /// wait can never succeed (the append that follows then raises the reason). Adds to an
  /// arm_for_message() still pending. When the fd becomes readable, both are cleared.
  void arm_for_space(std::uint64_t needed_bytes);
  /// Stops watching; the fd stays as it is.
  void disarm();

private:
  void armed_changed();
  bool wait_once(bool message, std::uint64_t space_bytes);
  void run();

  Queue::Impl &impl_;
  platform::NotifyFd wake_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool want_message_ = false;
  std::uint64_t want_space_bytes_ = 0; // 0: not waiting for space
  std::uint64_t request_ = 0; // bumped by every arm/disarm: a stale wait result is dropped
  bool stop_ = false;
  std::unique_ptr<std::thread> thread_;
  std::uint64_t fork_generation_;
};

} // namespace pysyncq
