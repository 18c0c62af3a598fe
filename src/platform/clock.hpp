// Monotonic time as plain nanoseconds, for values stored in shared memory. Every process
// on the machine reads the same CLOCK_MONOTONIC, so these compare across processes.
#pragma once

#include <chrono>
#include <cstdint>

namespace pysyncq::platform {

inline std::uint64_t monotonic_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

} // namespace pysyncq::platform
