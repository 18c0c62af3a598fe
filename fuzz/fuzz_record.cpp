// libFuzzer target: the record decoder (src/core/record.hpp) on hostile ring bytes.
// Input: position (8 bytes), published bytes after it (8 bytes), then the ring itself
// (its length rounded down to a multiple of 8). The decoder must refuse (NotAQueue) or
// return fields that lie inside what was published; reading them must stay in the ring.
#include "core/record.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using namespace pysyncq::core;
  if (size < 16 + kRingAlignment) {
    return 0;
  }
  std::uint64_t position = 0;
  std::uint64_t available = 0;
  std::memcpy(&position, data, 8);
  std::memcpy(&available, data + 8, 8);
  const std::size_t capacity = (size - 16) / kRingAlignment * kRingAlignment;
  std::vector<std::byte> storage(capacity);
  std::memcpy(storage.data(), data + 16, capacity);
  const Ring ring(storage.data(), capacity);
  try {
    const RecordExtent extent = read_record_header(ring, position, available);
    const FieldPositions fields = field_positions(position, extent.header);
    if (extent.total_bytes > available || available > capacity ||
        sizeof(RecordHeader) + std::uint64_t{extent.header.sender_bytes} +
                extent.header.type_bytes + extent.header.body_bytes >
            extent.total_bytes) {
      __builtin_trap(); // accepted a record that does not fit what was published
    }
    std::string scratch;
    std::uint64_t sum = 0;
    for (const auto &[at, bytes] :
         {std::pair{fields.sender, std::uint64_t{extent.header.sender_bytes}},
          std::pair{fields.type, std::uint64_t{extent.header.type_bytes}},
          std::pair{fields.body, extent.header.body_bytes}}) {
      for (const char c : ring.view(at, bytes, scratch)) {
        sum += static_cast<unsigned char>(c);
      }
    }
    if (sum == 0xFFFFFFFFFFFFFFFFULL) {
      __builtin_trap(); // unreachable; keeps the reads from being optimised away
    }
  } catch (const pysyncq::NotAQueue &) {
  }
  return 0;
}
