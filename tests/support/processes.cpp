#include "support/processes.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <dirent.h>
#include <exception>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace pysyncq::testing {

std::string unique_name(std::string_view tag) {
  static std::atomic<int> counter{0};
  std::string name = "pysyncq-test-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter++) + "-" + std::string(tag);
  // 30 bytes at most, the longest segment name macOS takes: then the segment's name is
  // the queue name on every platform, and tests may open "/" + NAME themselves. The pid
  // (at most 7 digits on Linux) and the counter come first and keep it unique (26 bytes
  // up to 10000 names per process); only the tag is cut. Long names have their own tests.
  constexpr std::size_t kMaxSegmentNameBytes = 30;
  name.resize(std::min(name.size(), kMaxSegmentNameBytes));
  return name;
}

NameGuard::~NameGuard() { ::shm_unlink(("/" + name_).c_str()); }

bool segment_exists(const std::string &name) {
  return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0;
}

bool NameGuard::exists() const { return segment_exists(name_); }

void kill_self() {
  ::kill(::getpid(), SIGKILL);
  ::_exit(99); // not reached: SIGKILL cannot be caught
}

int current_pid() { return static_cast<int>(::getpid()); }

void set_environment(const char *variable, const char *value) { ::setenv(variable, value, 1); }

std::optional<int> run_child_if_asked(int /*argc*/, char ** /*argv*/) {
  return std::nullopt; // children are forked here, never started again
}

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

Pipe::Pipe(Pipe &&other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

Pipe::~Pipe() {
  if (read_fd_ >= 0) {
    ::close(static_cast<int>(read_fd_));
  }
  if (write_fd_ >= 0) {
    ::close(static_cast<int>(write_fd_));
  }
}

std::string Pipe::to_text() const {
  return std::to_string(read_fd_) + "." + std::to_string(write_fd_);
}

Pipe Pipe::from_text(const std::string &text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string::npos) {
    throw std::invalid_argument("not a pipe: " + text);
  }
  return Pipe(::dup(std::stoi(text.substr(0, dot))), ::dup(std::stoi(text.substr(dot + 1))));
}

void Pipe::send(char byte) const {
  while (::write(static_cast<int>(write_fd_), &byte, 1) != 1) {
    if (errno != EINTR) {
      throw std::runtime_error("pipe write failed");
    }
  }
}

void Pipe::send_text(const std::string &text) const {
  // One write: up to PIPE_BUF bytes it is atomic, so lines from several processes
  // sharing the pipe never interleave.
  const std::string line = text + '\n';
  if (line.size() > PIPE_BUF) {
    throw std::runtime_error("line longer than PIPE_BUF");
  }
  while (::write(static_cast<int>(write_fd_), line.data(), line.size()) !=
         static_cast<ssize_t>(line.size())) {
    if (errno != EINTR) {
      throw std::runtime_error("pipe write failed");
    }
  }
}

bool Pipe::receive(char &byte, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd descriptor{static_cast<int>(read_fd_), POLLIN, 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(std::max<long>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return false;
    }
    const ssize_t got = ::read(static_cast<int>(read_fd_), &byte, 1);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    return got == 1;
  }
}

namespace {
// Whether every thread but the caller is in state S (sleeping in a system call).
bool other_threads_sleep() {
  const std::string self = std::to_string(::syscall(SYS_gettid));
  DIR *tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    return false;
  }
  bool all_asleep = true;
  while (const dirent *entry = ::readdir(tasks)) {
    const std::string tid = entry->d_name;
    if (tid == "." || tid == ".." || tid == self) {
      continue;
    }
    std::ifstream stat_file("/proc/self/task/" + tid + "/stat");
    std::string stat;
    std::getline(stat_file, stat);
    const std::size_t after_name = stat.rfind(") ");
    // A thread that ended since readdir has no stat left: it is not running either.
    if (after_name != std::string::npos && stat.size() > after_name + 2 &&
        stat[after_name + 2] != 'S') {
      all_asleep = false;
    }
  }
  ::closedir(tasks);
  return all_asleep;
}
} // namespace

bool wait_until_other_threads_sleep(std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!other_threads_sleep()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

Child::Child(const std::function<int()> &body, std::chrono::seconds watchdog) {
  std::fflush(nullptr); // no buffered output duplicated into the child
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::alarm(static_cast<unsigned>(watchdog.count())); // SIGALRM ends a hung child
    int status = 99;
    try {
      status = body();
    } catch (const std::exception &error) {
      std::fprintf(stderr, "child %d: uncaught exception: %s\n", ::getpid(), error.what());
    } catch (...) {
      std::fprintf(stderr, "child %d: uncaught exception\n", ::getpid());
    }
    std::fflush(nullptr);
    ::_exit(status); // not exit(): the parent's gtest state must not run twice
  }
}

Child::Child(Child &&other) noexcept : pid_(other.pid_) { other.pid_ = -1; }

Child::~Child() {
  if (pid_ > 0) {
    kill_and_wait();
  }
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) {
    return -1001;
  }
  // A pidfd becomes readable when the child exits: wait on it with the timeout.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd descriptor{pidfd, POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&descriptor, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    ::close(pidfd);
    if (ready == 0) {
      kill_and_wait();
      return -1000;
    }
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int Child::kill_and_wait() {
  if (pid_ <= 0) {
    return -1001;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

} // namespace pysyncq::testing
