// Self-checking message bodies for the crash, soak and fault tests: a reader can tell
// from the bytes alone whether a body is whole and which stream and sequence number it
// carries, so a torn, phantom or reordered message is caught by whoever reads it.
//
//   body = "PQ" | stream u32 | seq u64 | payload_bytes u32 | payload | fnv1a64(all before)
//
// The payload bytes are a function of (stream, seq), so a body that mixes two messages'
// bytes fails the checksum or the payload comparison.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace pysyncq::testing {

inline constexpr std::size_t kCheckedOverhead = 2 + 4 + 8 + 4 + 8;

inline std::uint64_t fnv1a64(std::string_view bytes) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

inline char payload_byte(std::uint32_t stream, std::uint64_t seq, std::size_t index) noexcept {
  std::uint64_t x = (std::uint64_t{stream} << 40) ^ (seq * 0x9E3779B97F4A7C15ULL) ^ index;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return static_cast<char>(x & 0xFF);
}

/// A body of kCheckedOverhead + payload_bytes bytes.
inline std::string make_checked_body(std::uint32_t stream, std::uint64_t seq,
                                     std::uint32_t payload_bytes) {
  std::string body(kCheckedOverhead + payload_bytes, '\0');
  char *p = body.data();
  p[0] = 'P';
  p[1] = 'Q';
  std::memcpy(p + 2, &stream, 4);
  std::memcpy(p + 6, &seq, 8);
  std::memcpy(p + 14, &payload_bytes, 4);
  for (std::uint32_t i = 0; i < payload_bytes; ++i) {
    p[18 + i] = payload_byte(stream, seq, i);
  }
  const std::uint64_t sum = fnv1a64(std::string_view(p, 18 + payload_bytes));
  std::memcpy(p + 18 + payload_bytes, &sum, 8);
  return body;
}

struct CheckedId {
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::uint32_t payload_bytes = 0;
};

/// The stream and sequence of a whole, intact body; nullopt for anything else.
inline std::optional<CheckedId> parse_checked_body(std::string_view body) {
  if (body.size() < kCheckedOverhead || body[0] != 'P' || body[1] != 'Q') {
    return std::nullopt;
  }
  CheckedId id;
  std::memcpy(&id.stream, body.data() + 2, 4);
  std::memcpy(&id.seq, body.data() + 6, 8);
  std::memcpy(&id.payload_bytes, body.data() + 14, 4);
  if (body.size() != kCheckedOverhead + std::size_t{id.payload_bytes}) {
    return std::nullopt;
  }
  std::uint64_t sum = 0;
  std::memcpy(&sum, body.data() + 18 + id.payload_bytes, 8);
  if (sum != fnv1a64(body.substr(0, 18 + id.payload_bytes))) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < id.payload_bytes; ++i) {
    if (body[18 + i] != payload_byte(id.stream, id.seq, i)) {
      return std::nullopt;
    }
  }
  return id;
}

/// A small deterministic generator (splitmix64) so each process draws from a printed seed.
class Random {
public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound).
  std::uint64_t below(std::uint64_t bound) noexcept { return bound == 0 ? 0 : next() % bound; }
  bool chance(unsigned percent) noexcept { return below(100) < percent; }

private:
  std::uint64_t state_;
};

/// The seed for a randomised test: PYSYNCQ_SEED if set, else from the clock. Printed by
/// the caller so that a failure can be replayed.
inline std::uint64_t test_seed() {
  if (const char *text = std::getenv("PYSYNCQ_SEED"); text != nullptr && *text != '\0') {
    return std::strtoull(text, nullptr, 0);
  }
  return static_cast<std::uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
}

/// True when the run is `make torture` (PYSYNCQ_TORTURE=1): loops run longer.
inline bool torture() {
  const char *text = std::getenv("PYSYNCQ_TORTURE");
  return text != nullptr && std::strcmp(text, "1") == 0;
}

} // namespace pysyncq::testing
