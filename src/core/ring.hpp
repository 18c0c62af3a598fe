// The ring: `capacity` bytes addressed by 64-bit positions that only grow, so that
// full and empty never look alike and nothing wraps in 2^64 bytes (58 years at 10 GB/s).
// A position becomes an offset in exactly one place: Ring::offset_of.
#pragma once

#include "core/layout.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pysyncq::core {

class Ring {
public:
  Ring() = default;
  Ring(std::byte *base, std::uint64_t capacity) noexcept : base_(base), capacity_(capacity) {}

  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint64_t offset_of(std::uint64_t position) const noexcept { return position % capacity_; }

  /// Copies `n` bytes to the ring at `position`, wrapping at the end. n <= capacity.
  void write(std::uint64_t position, const void *source, std::uint64_t n) const noexcept {
    const std::uint64_t offset = offset_of(position);
    const std::uint64_t first = n < capacity_ - offset ? n : capacity_ - offset;
    std::memcpy(base_ + offset, source, first);
    std::memcpy(base_, static_cast<const std::byte *>(source) + first, n - first);
  }

  /// Copies `n` bytes from the ring at `position`, wrapping at the end. n <= capacity.
  void read(std::uint64_t position, void *target, std::uint64_t n) const noexcept {
    const std::uint64_t offset = offset_of(position);
    const std::uint64_t first = n < capacity_ - offset ? n : capacity_ - offset;
    std::memcpy(target, base_ + offset, first);
    std::memcpy(static_cast<std::byte *>(target) + first, base_, n - first);
  }

  /// The `n` bytes at `position` as one view: in place when they do not wrap, otherwise
  /// copied into `scratch` (which then backs the view).
  std::string_view view(std::uint64_t position, std::uint64_t n, std::string &scratch) const {
    const std::uint64_t offset = offset_of(position);
    if (n <= capacity_ - offset) {
      return {reinterpret_cast<const char *>(base_ + offset), static_cast<std::size_t>(n)};
    }
    scratch.resize(static_cast<std::size_t>(n));
    read(position, scratch.data(), n);
    return scratch;
  }

private:
  std::byte *base_ = nullptr;
  std::uint64_t capacity_ = 1;
};

} // namespace pysyncq::core
