// Windows errors as the rest of the library knows them: a SyscallError whose number is
// the nearest errno (ENOENT, EEXIST, EACCES, ENOMEM; EIO for the rest), so callers and
// tests test one set of numbers on every OS; the text keeps the Windows error code.
// Only src/platform/windows/ includes this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pysyncq::platform {

/// Throws SyscallError("CALL(OBJECT): <errno text> (Windows error N)", errno_for(N)).
[[noreturn]] void throw_windows_error(std::string_view call, std::string_view object,
                                      std::uint32_t windows_error);

/// The errno nearest to a GetLastError() value.
int errno_for(std::uint32_t windows_error) noexcept;

/// UTF-8 to the UTF-16 the W functions take (names of kernel objects).
std::wstring widen(std::string_view utf8);

} // namespace pysyncq::platform
