// Values of command-line arguments: sizes and modes, checked as CLI11 validation errors.
#pragma once

#include <cstdint>
#include <string>

namespace syncq {

/// "4096", "64K", "1M", "2G" (powers of 1024; "KiB"/"MiB"/"GiB" too) to bytes.
std::uint64_t parse_size(const std::string &text);
/// Octal permission bits ("0660", "660") up to 0777.
unsigned parse_mode(const std::string &text);

} // namespace syncq
