#include "args.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>

namespace syncq {

std::uint64_t parse_size(const std::string &text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    throw CLI::ValidationError("--size",
                               "'" + text + "' is not a size in bytes (e.g. 4096, 64K, 1M)");
  }
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KIB") {
    shift = 10;
  } else if (unit == "M" || unit == "MIB") {
    shift = 20;
  } else if (unit == "G" || unit == "GIB") {
    shift = 30;
  } else {
    throw CLI::ValidationError("--size", "unknown unit '" + text.substr(digits) +
                                             "' (use K, M or G, powers of 1024)");
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      throw CLI::ValidationError("--size", "'" + text + "' is too large");
    }
    value = value * 10 + digit;
  }
  if (shift != 0 && value > (UINT64_MAX >> shift)) {
    throw CLI::ValidationError("--size", "'" + text + "' is too large");
  }
  return value << shift;
}

unsigned parse_mode(const std::string &text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos) {
    throw CLI::ValidationError("--mode", "'" + text + "' is not an octal mode like 0660");
  }
  const unsigned mode = static_cast<unsigned>(std::stoul(text, nullptr, 8));
  if (mode > 0777) {
    throw CLI::ValidationError("--mode",
                               "'" + text + "' has bits beyond 0777 (setuid, setgid, sticky)");
  }
  return mode;
}

} // namespace syncq
