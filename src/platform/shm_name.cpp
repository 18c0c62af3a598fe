// Queue names as the OS's shared-memory calls want them. The same rules on every OS, so a
// name that works on one works on all.
#include "platform/shm.hpp"

#include "pysyncq/errors.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace pysyncq::platform {

namespace {

// FNV-1a, 64 bits: spreads names well, and needs no table. Not for secrecy: a collision
// that someone contrives is refused at attach by the full name in the header.
constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t fnv1a(std::string_view text) noexcept {
  std::uint64_t hash = kFnvOffsetBasis;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

} // namespace

std::string hashed_segment_name(const std::string &queue) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(queue)));
  return queue.substr(0, kHashedNamePrefixBytes) + "~" + hex;
}

std::string queue_name_for(std::string_view name) {
  if (!name.empty() && name.front() == '/') {
    name.remove_prefix(1); // accept "/jobs" as multiprocessing.shared_memory does
  }
  if (name.empty()) {
    throw InvalidArgument("queue name is empty");
  }
  if (name.size() > kMaxQueueNameBytes) {
    throw InvalidArgument("queue name is " + std::to_string(name.size()) +
                          " bytes long; at most " +
                          std::to_string(kMaxQueueNameBytes) + " are allowed");
  }
  if (name.find('/') != std::string_view::npos) {
    throw InvalidArgument("queue name '" + std::string(name) + "' contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    throw InvalidArgument("queue name contains a NUL byte");
  }
  if (name == "." || name == "..") {
    throw InvalidArgument("queue name '" + std::string(name) + "' is not a file name");
  }
  return std::string(name);
}

} // namespace pysyncq::platform
