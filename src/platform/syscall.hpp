// The one wrapper for system calls: retries EINTR where that is right, and turns a
// failure into a SyscallError naming the call, the errno text and the object involved.
#pragma once

#include "pysyncq/errors.hpp"

#include <cerrno>
#include <string>
#include <string_view>

namespace pysyncq::platform {

/// Throws SyscallError("CALL(OBJECT): strerror(error)", error).
[[noreturn]] void throw_syscall_error(std::string_view call, std::string_view object,
                                      int error_number);

/// Runs `call()` (which returns -1 and sets errno on failure) until it does not fail
/// with EINTR; throws on any other failure. Use only for calls that are safe to repeat.
template <class Call>
auto retry_on_eintr(std::string_view call_name, std::string_view object, Call &&call) {
  for (;;) {
    auto result = call();
    if (result != -1) {
      return result;
    }
    if (errno != EINTR) {
      throw_syscall_error(call_name, object, errno);
    }
  }
}

} // namespace pysyncq::platform
