// What posix/shm.cpp needs from each POSIX system: one definition per OS file.
#pragma once

#include <cstdint>
#include <string>

namespace pysyncq::platform {

/// Gives the new, empty segment file `fd` its size of `bytes` (called once, by its
/// creator, before anyone else can see a non-zero size). Throws SyscallError naming `name`.
void reserve_segment_bytes(int fd, std::uint64_t bytes, const std::string &name);

} // namespace pysyncq::platform
