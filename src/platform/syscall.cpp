#include "platform/syscall.hpp"

#include <cstring>

namespace pysyncq::platform {

void throw_syscall_error(std::string_view call, std::string_view object, int error_number) {
  std::string what(call);
  what += '(';
  what += object;
  what += "): ";
  what += std::strerror(error_number);
  throw SyscallError(what, error_number);
}

} // namespace pysyncq::platform
