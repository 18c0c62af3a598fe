// See win_error.hpp.
#include "platform/windows/win_error.hpp"

#include "platform/syscall.hpp"

#include <windows.h>

#include <cerrno>
#include <cstring>

namespace pysyncq::platform {

int errno_for(std::uint32_t windows_error) noexcept {
  switch (windows_error) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
    return ENOENT;
  case ERROR_ALREADY_EXISTS:
  case ERROR_FILE_EXISTS:
    return EEXIST;
  case ERROR_ACCESS_DENIED:
    return EACCES;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
    return ENOMEM;
  case ERROR_NOT_SUPPORTED:
    return ENOTSUP;
  case ERROR_INVALID_HANDLE: // a name taken by an object of another type
  case ERROR_INVALID_PARAMETER:
    return EINVAL;
  default:
    return EIO;
  }
}

void throw_windows_error(std::string_view call, std::string_view object,
                         std::uint32_t windows_error) {
  const int error_number = errno_for(windows_error);
  std::string what(call);
  what += '(';
  what += object;
  what += "): ";
  what += std::strerror(error_number);
  what += " (Windows error " + std::to_string(windows_error) + ")";
  throw SyscallError(what, error_number);
}

std::wstring widen(std::string_view utf8) {
  if (utf8.empty()) {
    return {};
  }
  const int length = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()),
                                           nullptr, 0);
  std::wstring wide(static_cast<std::size_t>(length), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), wide.data(),
                        length);
  return wide;
}

} // namespace pysyncq::platform
