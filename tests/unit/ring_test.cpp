// Ring arithmetic and the record codec, on process-local memory.
#include "core/record.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using pysyncq::core::read_record_header;
using pysyncq::core::record_bytes;
using pysyncq::core::Ring;
using pysyncq::core::write_record;

TEST(Ring, record_sizes_round_up_to_eight_and_saturate_instead_of_overflowing) {
  EXPECT_EQ(record_bytes(0, 0, 0), 16U);
  EXPECT_EQ(record_bytes(1, 0, 0), 24U);
  EXPECT_EQ(record_bytes(1, 1, 6), 24U);
  EXPECT_EQ(record_bytes(1, 1, 7), 32U);
  EXPECT_EQ(record_bytes(0, 0, ~0ULL), ~0ULL);
}

TEST(Ring, writes_and_reads_wrap_around_at_every_offset) {
  std::vector<std::byte> memory(64);
  const Ring ring(memory.data(), memory.size());
  std::mt19937 random(1);
  for (std::uint64_t position = 0; position < 200; ++position) {
    for (std::uint64_t n = 0; n <= 64; n += 7) {
      std::string in(n, '\0');
      for (char &c : in) {
        c = static_cast<char>(random());
      }
      ring.write(position, in.data(), n);
      std::string out(n, '\0');
      ring.read(position, out.data(), n);
      ASSERT_EQ(in, out) << "position " << position << " n " << n;
      std::string scratch;
      ASSERT_EQ(ring.view(position, n, scratch), in);
    }
  }
}

TEST(Ring, a_record_round_trips_when_it_wraps_at_any_byte) {
  std::vector<std::byte> memory(128);
  const Ring ring(memory.data(), memory.size());
  for (std::uint64_t position = 0; position < 128; position += 8) {
    write_record(ring, position, "sender", "type", "the body");
    const auto extent = read_record_header(ring, position, 128);
    EXPECT_EQ(extent.total_bytes, record_bytes(6, 4, 8));
    const auto fields = pysyncq::core::field_positions(position, extent.header);
    std::string scratch;
    EXPECT_EQ(ring.view(fields.sender, 6, scratch), "sender");
    EXPECT_EQ(ring.view(fields.type, 4, scratch), "type");
    EXPECT_EQ(ring.view(fields.body, 8, scratch), "the body");
  }
}

TEST(Ring, a_header_claiming_more_bytes_than_were_published_is_refused) {
  std::vector<std::byte> memory(128);
  const Ring ring(memory.data(), memory.size());
  write_record(ring, 0, "s", "t", std::string(40, 'b'));
  EXPECT_THROW(read_record_header(ring, 0, 32), pysyncq::NotAQueue);
  EXPECT_THROW(read_record_header(ring, 0, 8), pysyncq::NotAQueue);
  EXPECT_THROW(read_record_header(ring, 0, 1000), pysyncq::NotAQueue); // beyond the ring
  const pysyncq::core::RecordHeader absurd{~0U, ~0U, ~0ULL};
  ring.write(0, &absurd, sizeof absurd);
  EXPECT_THROW(read_record_header(ring, 0, 128), pysyncq::NotAQueue);
}
