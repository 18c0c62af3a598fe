// The one helper set for tests that use real processes: unique queue names that are
// removed even when a test fails, forked children with a watchdog, and pipe handshakes.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace pysyncq::testing {

/// "pysyncq-test-<pid>-<n>-<tag>", cut to 30 bytes (the tag goes first): unique per call,
/// and short enough to be the segment's own name on every platform (macOS: 30 bytes).
/// The test runner fails when a segment with this prefix is left in /dev/shm.
std::string unique_name(std::string_view tag);

/// Unlinks the queue name at scope exit if it is still there (a failed test must not
/// leak); `expect_gone()` makes the test fail if it was still there.
class NameGuard {
public:
  explicit NameGuard(std::string name) : name_(std::move(name)) {}
  NameGuard(const NameGuard &) = delete;
  NameGuard &operator=(const NameGuard &) = delete;
  ~NameGuard();
  const std::string &name() const noexcept { return name_; }
  const char *c_str() const noexcept { return name_.c_str(); }
  /// Whether /dev/shm/NAME exists now.
  bool exists() const;

private:
  std::string name_;
};

/// A one-way byte channel between processes, made before fork.
class Pipe {
public:
  Pipe();
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
  ~Pipe();
  void send(char byte) const;
  void send_text(const std::string &text) const; // a line, '\n' appended
  /// Waits up to `timeout` for one byte; false on timeout or end of file.
  bool receive(char &byte, std::chrono::milliseconds timeout) const;
  /// Waits for `expected`; false if something else, end of file or timeout.
  bool expect(char expected, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  /// Reads a line (without '\n'); empty optional semantics: returns false on timeout/EOF.
  bool receive_line(std::string &line, std::chrono::milliseconds timeout) const;

private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

/// Waits until every other thread of this process is asleep in the kernel (state S in
/// /proc/self/task). A test that forks while another thread may be starting up calls it
/// first: under AddressSanitizer (gcc 12) a fork can copy the sanitizer's allocator lock
/// held by that thread, and the child's next allocation on it never returns. (glibc's
/// own malloc is fork-safe.) False after `timeout`.
bool wait_until_other_threads_sleep(std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// A forked child running `body`; its exit status is body's return value (an uncaught
/// exception prints its message and exits 99). The child kills itself after `watchdog`
/// so a hung test can never hang CI. The destructor kills and reaps a child still running.
class Child {
public:
  explicit Child(const std::function<int()> &body,
                 std::chrono::seconds watchdog = std::chrono::seconds(60));
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  Child(Child &&other) noexcept;
  ~Child();

  pid_t pid() const noexcept { return pid_; }
  /// Waits for the child; returns its exit code, or -SIGNAL if a signal ended it, or
  /// -1000 if it was still running after `timeout` (it is then killed).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Sends SIGKILL and reaps it; returns like wait().
  int kill_and_wait();

private:
  pid_t pid_ = -1;
};

} // namespace pysyncq::testing
