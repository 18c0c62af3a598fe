// The one helper set for tests that use real processes: unique queue names that are
// removed even when a test fails, children with a watchdog, and pipe handshakes.
//
// Children: spawn_child(body, args...) runs `body(args...)` in a child process on every
// OS; write a test's child that way and the same source runs on Linux, macOS and Windows.
// `body` is a lambda without captures (what it needs comes as arguments: strings,
// integers, Pipes). Where fork() exists the child is forked and calls body with the very
// objects passed; on Windows (no fork) the test program starts itself again with
// "--pysyncq-child", naming the body by its offset in the program's image, and the
// arguments as text (child_process.hpp; the program's main is test_main.cpp).
// Child(lambda) forks with captures, and only where fork() exists: a test of what a fork
// inherits calls PYSYNCQ_SKIP_WITHOUT_FORK() first.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef _WIN32
#include <csignal>
#ifndef SIGKILL
#define SIGKILL 9 // what Child::wait() reports for a TerminateProcess'd child on Windows
#endif
#define PYSYNCQ_SKIP_WITHOUT_FORK() GTEST_SKIP() << "needs fork(), which Windows lacks"
#else
#define PYSYNCQ_SKIP_WITHOUT_FORK() ((void)0)
#endif

namespace pysyncq::testing {

/// Whether a queue's segment named NAME exists now (/dev/shm/NAME; on Windows, the named
/// file mapping).
bool segment_exists(const std::string &name);

/// This process's id (getpid; GetCurrentProcessId on Windows).
int current_pid();

/// Ends this process as a crash would: SIGKILL (TerminateProcess on Windows, which
/// Child::wait() reports as -SIGKILL too).
[[noreturn]] void kill_self();

/// Sets an environment variable in this process (setenv; _putenv_s on Windows).
void set_environment(const char *variable, const char *value);

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
  /// Whether /dev/shm/NAME exists now (segment_exists).
  bool exists() const;

private:
  std::string name_;
};

/// A one-way byte channel between processes, made before the child starts.
class Pipe {
public:
  Pipe();
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
  Pipe(Pipe &&other) noexcept;
  Pipe &operator=(Pipe &&) = delete;
  ~Pipe();
  /// The pipe's two ends as text, for a spawned child (Windows: inheritable handles).
  std::string to_text() const;
  /// The pipe a child got as to_text(); throws std::invalid_argument on other text.
  static Pipe from_text(const std::string &text);
  void send(char byte) const;
  void send_text(const std::string &text) const; // a line, '\n' appended
  /// Waits up to `timeout` for one byte; false on timeout or end of file.
  bool receive(char &byte, std::chrono::milliseconds timeout) const;
  /// Waits for `expected`; false if something else, end of file or timeout.
  bool expect(char expected, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  /// Reads a line (without '\n'); empty optional semantics: returns false on timeout/EOF.
  bool receive_line(std::string &line, std::chrono::milliseconds timeout) const;

private:
  Pipe(std::intptr_t read_end, std::intptr_t write_end) noexcept
      : read_fd_(read_end), write_fd_(write_end) {}
  // File descriptors; on Windows, HANDLE values.
  std::intptr_t read_fd_ = -1;
  std::intptr_t write_fd_ = -1;
};

/// Waits until every other thread of this process is asleep in the kernel (state S in
/// /proc/self/task). A test that forks while another thread may be starting up calls it
/// first: under AddressSanitizer (gcc 12) a fork can copy the sanitizer's allocator lock
/// held by that thread, and the child's next allocation on it never returns. (glibc's
/// own malloc is fork-safe.) False after `timeout`.
bool wait_until_other_threads_sleep(std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// A child process running a body; its exit status is body's return value (an uncaught
/// exception prints its message and exits 99). The child kills itself after `watchdog`
/// so a hung test can never hang CI. The destructor kills and reaps a child still running.
/// Made by spawn_child() (every OS), or from a capturing lambda by fork() (not Windows).
class Child {
public:
  explicit Child(const std::function<int()> &body,
                 std::chrono::seconds watchdog = std::chrono::seconds(60));
  /// A child started by start_spawned_child (Windows): takes the process handle and id.
  Child(std::intptr_t process, int pid) noexcept : process_(process), pid_(pid) {}
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  Child(Child &&other) noexcept;
  ~Child();

  int pid() const noexcept { return pid_; }
  /// Waits for the child; returns its exit code, or -SIGNAL if a signal ended it, or
  /// -1000 if it was still running after `timeout` (it is then killed). On Windows a
  /// TerminateProcess'd child (a crash point, kill_and_wait) gives -SIGKILL (-9).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Sends SIGKILL (Windows: TerminateProcess) and reaps it; returns like wait().
  int kill_and_wait();

private:
  std::intptr_t process_ = 0; // Windows: the process HANDLE
  int pid_ = -1;
};

namespace child_detail {

// Arguments as text, for a child that does not share the parent's memory.
std::string encode(const std::string &text);
std::string encode(const char *text);
std::string encode(const Pipe &pipe);
template <class Integer, class = std::enable_if_t<std::is_integral_v<Integer>>>
std::string encode(Integer value) {
  return std::to_string(value);
}
template <class T> T decode(const std::string &text) {
  if constexpr (std::is_same_v<T, std::string>) {
    std::string decoded;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
      decoded += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    }
    return decoded;
  } else if constexpr (std::is_same_v<T, Pipe>) {
    return Pipe::from_text(text);
  } else {
    static_assert(std::is_integral_v<T>, "a child's argument: a string, an integer or a Pipe");
    if constexpr (std::is_unsigned_v<T>) {
      return static_cast<T>(std::stoull(text));
    } else {
      return static_cast<T>(std::stoll(text));
    }
  }
}

// Runs the body `body` (an int(*)(P...)) with `args` decoded: what a spawned child does.
using Trampoline = int (*)(std::uintptr_t body, const std::vector<std::string> &args);
template <class... P, std::size_t... I>
int call_decoded(int (*body)(P...), const std::vector<std::string> &args,
                 std::index_sequence<I...>) {
  std::tuple<std::decay_t<P>...> values{decode<std::decay_t<P>>(args[I])...};
  return body(std::get<I>(values)...);
}
template <class... P> int trampoline(std::uintptr_t body, const std::vector<std::string> &args) {
  if (args.size() != sizeof...(P)) {
    return 98;
  }
  return call_decoded(reinterpret_cast<int (*)(P...)>(body), args, std::index_sequence_for<P...>{});
}

/// Starts this program again as a child that runs trampoline(body, args) (Windows).
Child start_spawned_child(Trampoline trampoline, std::uintptr_t body,
                          const std::vector<std::string> &args);

template <class... P, class... Args> Child spawn(int (*body)(P...), const Args &...args) {
  static_assert(sizeof...(P) == sizeof...(Args), "spawn_child: one argument per parameter");
#ifdef _WIN32
  return start_spawned_child(&trampoline<P...>, reinterpret_cast<std::uintptr_t>(body),
                             {encode(args)...});
#else
  return Child([&] { return body(args...); });
#endif
}

} // namespace child_detail

/// Runs `body(args...)` in a child process (see the top of this file). `body` is a
/// lambda without captures returning int.
template <class Body, class... Args> Child spawn_child(Body body, const Args &...args) {
  return child_detail::spawn(+body, args...);
}

/// In main, before anything else: runs the child body that "--pysyncq-child" names and
/// returns its exit status; nullopt when this process is no such child.
std::optional<int> run_child_if_asked(int argc, char **argv);

} // namespace pysyncq::testing
