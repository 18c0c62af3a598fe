// NotifyFd on Windows: a manual-reset event. fd() is the event's HANDLE value as an int
// (Windows handles have 32 significant bits, so that interoperates with 32-bit
// processes): a C++ program waits on (HANDLE)(intptr_t)fd(). asyncio's default Proactor
// loop has no add_reader, so the Python binding, which is not built for Windows, would
// need a helper thread that waits on the event and calls call_soon_threadsafe
// (docs/design.md, "Windows").
#include "platform/notify_fd.hpp"

#include "platform/windows/win_error.hpp"

#include <windows.h>

#include <cstdint>

namespace pysyncq::platform {

namespace {
HANDLE as_handle(int fd) noexcept {
  return reinterpret_cast<HANDLE>(static_cast<std::intptr_t>(fd));
}
} // namespace

NotifyFd::NotifyFd() {
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) {
    throw_windows_error("CreateEvent", "queue notifier", ::GetLastError());
  }
  read_fd_ = static_cast<int>(reinterpret_cast<std::intptr_t>(event));
  write_fd_ = read_fd_;
}

NotifyFd::~NotifyFd() { close(); }

void NotifyFd::close() noexcept {
  if (read_fd_ != -1) {
    ::CloseHandle(as_handle(read_fd_));
  }
  read_fd_ = write_fd_ = -1;
}

void NotifyFd::signal() const noexcept { ::SetEvent(as_handle(write_fd_)); }

void NotifyFd::drain() const noexcept { ::ResetEvent(as_handle(read_fd_)); }

} // namespace pysyncq::platform
