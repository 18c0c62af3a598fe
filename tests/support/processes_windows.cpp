// processes.hpp on Windows, where there is no fork(): a child is this program started
// again (CreateProcess) as "PROGRAM --pysyncq-child TRAMPOLINE BODY WATCHDOG ARG...":
// TRAMPOLINE and BODY are offsets from the program's image base (the same program, so the
// same code at the same offsets), ARG... the body's arguments as child_args.cpp writes
// them. Pipes are anonymous pipes whose inheritable handles keep their values in the
// child. The kill is TerminateProcess with exit code 137 (128 + SIGKILL), which wait()
// reports as -SIGKILL, as a crash point's does.
#include "support/processes.hpp"

#include "core/layout.hpp"

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pysyncq::testing {

namespace {

constexpr UINT kKilledExitCode = 128 + SIGKILL;
constexpr UINT kWatchdogExitCode = 128 + 14; // as SIGALRM ends a hung POSIX child
constexpr const char *kChildFlag = "--pysyncq-child";

HANDLE as_handle(std::intptr_t value) noexcept { return reinterpret_cast<HANDLE>(value); }

std::uintptr_t image_base() noexcept {
  return reinterpret_cast<std::uintptr_t>(::GetModuleHandleW(nullptr));
}

int status_of(DWORD exit_code) noexcept {
  return exit_code == kKilledExitCode ? -SIGKILL : static_cast<int>(exit_code);
}

} // namespace

std::string unique_name(std::string_view tag) {
  static std::atomic<int> counter{0};
  std::string name = "pysyncq-test-" + std::to_string(::GetCurrentProcessId()) + "-" +
                     std::to_string(counter++) + "-" + std::string(tag);
  constexpr std::size_t kMaxSegmentNameBytes = 30; // as on POSIX (processes.cpp)
  name.resize(std::min(name.size(), kMaxSegmentNameBytes));
  return name;
}

bool segment_exists(const std::string &name) {
  // The object name windows/shm.cpp gives a short queue name. A name lives as long as any
  // handle, and removing a queue marks its header (Segment::attach refuses it): a mapping
  // so marked counts as gone, as its file would be on POSIX.
  const std::string object = "Local\\pysyncq-" + name;
  HANDLE mapping = ::OpenFileMappingA(FILE_MAP_READ, FALSE, object.c_str());
  if (mapping == nullptr) {
    return false;
  }
  bool removed = false;
  if (const void *view = ::MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0)) {
    const auto *header = static_cast<const core::SegmentHeader *>(view);
    removed = header->unlinked.load(std::memory_order_relaxed) != 0U;
    ::UnmapViewOfFile(view);
  }
  ::CloseHandle(mapping);
  return !removed;
}

// Windows cannot remove a name: the mapping goes with the last handle, and every handle
// of a test's processes is closed when they end, failed test or not.
NameGuard::~NameGuard() = default;

bool NameGuard::exists() const { return segment_exists(name_); }

void kill_self() {
  ::TerminateProcess(::GetCurrentProcess(), kKilledExitCode);
  ::_exit(99); // not reached
}

int current_pid() { return static_cast<int>(::GetCurrentProcessId()); }

void set_environment(const char *variable, const char *value) { ::_putenv_s(variable, value); }

Pipe::Pipe() {
  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE read_end = nullptr;
  HANDLE write_end = nullptr;
  if (::CreatePipe(&read_end, &write_end, &inheritable, 0) == 0) {
    throw std::runtime_error("CreatePipe failed");
  }
  read_fd_ = reinterpret_cast<std::intptr_t>(read_end);
  write_fd_ = reinterpret_cast<std::intptr_t>(write_end);
}

Pipe::Pipe(Pipe &&other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

Pipe::~Pipe() {
  if (read_fd_ != -1) {
    ::CloseHandle(as_handle(read_fd_));
  }
  if (write_fd_ != -1) {
    ::CloseHandle(as_handle(write_fd_));
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
  return Pipe(std::stoll(text.substr(0, dot)), std::stoll(text.substr(dot + 1)));
}

void Pipe::send(char byte) const {
  DWORD written = 0;
  if (::WriteFile(as_handle(write_fd_), &byte, 1, &written, nullptr) == 0 || written != 1) {
    throw std::runtime_error("pipe write failed");
  }
}

void Pipe::send_text(const std::string &text) const {
  // One write of a short line: lines of several writers do not interleave.
  const std::string line = text + '\n';
  DWORD written = 0;
  if (::WriteFile(as_handle(write_fd_), line.data(), static_cast<DWORD>(line.size()), &written,
                  nullptr) == 0 ||
      written != line.size()) {
    throw std::runtime_error("pipe write failed");
  }
}

bool Pipe::receive(char &byte, std::chrono::milliseconds timeout) const {
  // Anonymous pipes have no timed read: look whether a byte is there, and between looks
  // give the CPU away for a millisecond. A poll with a deadline, not a guessed sleep.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    DWORD available = 0;
    if (::PeekNamedPipe(as_handle(read_fd_), nullptr, 0, nullptr, &available, nullptr) == 0) {
      return false; // broken: every writer is gone
    }
    if (available > 0) {
      DWORD got = 0;
      return ::ReadFile(as_handle(read_fd_), &byte, 1, &got, nullptr) != 0 && got == 1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    ::Sleep(1);
  }
}

bool wait_until_other_threads_sleep(std::chrono::milliseconds /*timeout*/) {
  return true; // no fork here, so nothing a fork could copy mid-allocation
}

Child::Child(const std::function<int()> & /*body*/, std::chrono::seconds /*watchdog*/) {
  // A capturing lambda cannot cross into a new process: such tests are skipped here
  // (PYSYNCQ_SKIP_WITHOUT_FORK); reaching this is a test that forgot to.
  std::fprintf(stderr, "Child(lambda) needs fork(): use spawn_child, or skip on Windows\n");
  std::abort();
}

Child::Child(Child &&other) noexcept
    : process_(std::exchange(other.process_, 0)), pid_(std::exchange(other.pid_, -1)) {}

Child::~Child() {
  if (process_ != 0) {
    kill_and_wait();
  }
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (process_ == 0) {
    return -1001;
  }
  if (::WaitForSingleObject(as_handle(process_), static_cast<DWORD>(timeout.count())) ==
      WAIT_TIMEOUT) {
    kill_and_wait();
    return -1000;
  }
  DWORD exit_code = 0;
  ::GetExitCodeProcess(as_handle(process_), &exit_code);
  ::CloseHandle(as_handle(process_));
  process_ = 0;
  pid_ = -1;
  return status_of(exit_code);
}

int Child::kill_and_wait() {
  if (process_ == 0) {
    return -1001;
  }
  ::TerminateProcess(as_handle(process_), kKilledExitCode);
  ::WaitForSingleObject(as_handle(process_), INFINITE); // ends: it was terminated
  DWORD exit_code = 0;
  ::GetExitCodeProcess(as_handle(process_), &exit_code);
  ::CloseHandle(as_handle(process_));
  process_ = 0;
  pid_ = -1;
  return status_of(exit_code);
}

namespace child_detail {

Child start_spawned_child(Trampoline trampoline, std::uintptr_t body,
                          const std::vector<std::string> &args) {
  constexpr int kWatchdogSeconds = 60; // as Child's default
  wchar_t program[MAX_PATH];
  ::GetModuleFileNameW(nullptr, program, MAX_PATH);
  std::string command =
      std::string(kChildFlag) + " " +
      std::to_string(reinterpret_cast<std::uintptr_t>(trampoline) - image_base()) + " " +
      std::to_string(body - image_base()) + " " + std::to_string(kWatchdogSeconds);
  for (const std::string &arg : args) {
    command += " " + (arg.empty() ? std::string("-") : arg); // "-": an empty string
  }
  std::wstring line = L"\"" + std::wstring(program) + L"\" " +
                      std::wstring(command.begin(), command.end()); // ASCII only
  std::fflush(nullptr);
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  PROCESS_INFORMATION info{};
  if (::CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup,
                       &info) == 0) {
    throw std::runtime_error("CreateProcess failed: " + std::to_string(::GetLastError()));
  }
  ::CloseHandle(info.hThread);
  return Child(reinterpret_cast<std::intptr_t>(info.hProcess), static_cast<int>(info.dwProcessId));
}

} // namespace child_detail

std::optional<int> run_child_if_asked(int argc, char **argv) {
  if (argc < 5 || std::string(argv[1]) != kChildFlag) {
    return std::nullopt;
  }
  const auto trampoline =
      reinterpret_cast<child_detail::Trampoline>(image_base() + std::stoull(argv[2]));
  const std::uintptr_t body = image_base() + std::stoull(argv[3]);
  const int watchdog_seconds = std::stoi(argv[4]);
  std::thread([watchdog_seconds] { // ends a hung child, as alarm() does on POSIX
    ::Sleep(static_cast<DWORD>(watchdog_seconds) * 1000);
    ::TerminateProcess(::GetCurrentProcess(), kWatchdogExitCode);
  })
      .detach();
  std::vector<std::string> args;
  for (int i = 5; i < argc; ++i) {
    args.emplace_back(std::string(argv[i]) == "-" ? std::string() : std::string(argv[i]));
  }
  int status = 99;
  try {
    status = trampoline(body, args);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "child %lu: uncaught exception: %s\n", ::GetCurrentProcessId(),
                 error.what());
  } catch (...) {
    std::fprintf(stderr, "child %lu: uncaught exception\n", ::GetCurrentProcessId());
  }
  std::fflush(nullptr);
  ::_exit(status); // no static destructors, no gtest state, as a forked child
}

} // namespace pysyncq::testing
