// Messages on the wire: RecordHeader (layout.hpp), sender, type, body, zero to seven
// bytes of padding. Encoding is trusted (our own append); decoding is not (the segment
// may be corrupt or hostile), so every length is checked against what was published.
#pragma once

#include "core/layout.hpp"
#include "core/ring.hpp"
#include "pysyncq/errors.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pysyncq::core {

inline constexpr std::uint64_t kMaxFieldBytes = std::numeric_limits<std::uint32_t>::max();

/// Bytes a record takes in the ring. Saturates instead of overflowing on absurd sizes.
constexpr std::uint64_t record_bytes(std::uint64_t sender_bytes, std::uint64_t type_bytes,
                                     std::uint64_t body_bytes) noexcept {
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;
  if (sender_bytes > kLimit || type_bytes > kLimit || body_bytes > kLimit) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return round_up(sizeof(RecordHeader) + sender_bytes + type_bytes + body_bytes,
                  kRingAlignment);
}

/// Writes a whole record at `position`; the caller has checked that it fits.
inline void write_record(const Ring &ring, std::uint64_t position, std::string_view sender,
                         std::string_view type, std::string_view body) noexcept {
  const RecordHeader header{static_cast<std::uint32_t>(sender.size()),
                            static_cast<std::uint32_t>(type.size()), body.size()};
  ring.write(position, &header, sizeof header);
  position += sizeof header;
  ring.write(position, sender.data(), sender.size());
  position += sender.size();
  ring.write(position, type.data(), type.size());
  position += type.size();
  ring.write(position, body.data(), body.size());
}

struct RecordExtent {
  RecordHeader header;
  std::uint64_t total_bytes; // header, fields and padding
};

/// Reads the header of the record at `position`, where `available` published bytes
/// follow it. Throws NotAQueue if the record could not have been written by append.
inline RecordExtent read_record_header(const Ring &ring, std::uint64_t position,
                                       std::uint64_t available) {
  RecordExtent extent{};
  if (available < sizeof(RecordHeader) || available > ring.capacity()) {
    throw NotAQueue("corrupt queue: " + std::to_string(available) +
                    " unread bytes at position " + std::to_string(position) +
                    " cannot hold a message");
  }
  ring.read(position, &extent.header, sizeof extent.header);
  extent.total_bytes = record_bytes(extent.header.sender_bytes, extent.header.type_bytes,
                                    extent.header.body_bytes);
  if (extent.total_bytes > available) {
    throw NotAQueue("corrupt queue: the message at position " + std::to_string(position) +
                    " claims " + std::to_string(extent.total_bytes) + " bytes but only " +
                    std::to_string(available) + " were published");
  }
  return extent;
}

/// Field positions of a record whose header sits at `position`.
struct FieldPositions {
  std::uint64_t sender;
  std::uint64_t type;
  std::uint64_t body;
};

inline FieldPositions field_positions(std::uint64_t position, const RecordHeader &header) noexcept {
  const std::uint64_t sender = position + sizeof(RecordHeader);
  const std::uint64_t type = sender + header.sender_bytes;
  return {sender, type, type + header.type_bytes};
}

} // namespace pysyncq::core
