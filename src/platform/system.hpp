// Facts about the machine and the calling process that the queue needs and that each OS
// gives its own way.
#pragma once

#include <cstdint>

namespace pysyncq::platform {

/// The size of a memory page: the default capacity of a queue (one page of messages).
std::uint64_t page_size() noexcept;

/// The calling process's id (for messages; a member's identity is current_process()).
int current_pid() noexcept;

/// The user that owns what this process creates (POSIX: the effective uid).
unsigned effective_user_id() noexcept;

} // namespace pysyncq::platform
