// Arguments of spawn_child() as text (processes.hpp), the same on every OS: strings as
// hex (no quoting rules of any command line can touch them), integers in decimal, pipes
// as their ends.
#include "support/processes.hpp"

#include <cstdio>

namespace pysyncq::testing::child_detail {

std::string encode(const std::string &text) {
  std::string hex;
  for (const char c : text) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", static_cast<unsigned char>(c));
    hex += pair;
  }
  return hex;
}

std::string encode(const char *text) { return encode(std::string(text)); }

std::string encode(const Pipe &pipe) { return pipe.to_text(); }

} // namespace pysyncq::testing::child_detail
