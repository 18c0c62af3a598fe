// docs/design.md carries the segment layout table with its reasons; src/core/layout.hpp
// is the layout. They drifted once (the doc gave the magic as "PYSYNQ1\0", the code
// wrote "PYYSYNQ1"), so this test reads the doc and checks it against the code: the
// magic's bytes, the layout version, and the offset of every field the tables name.
#include "core/layout.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

namespace pysyncq::core {
namespace {

std::string design_md() {
  std::ifstream file(std::string(PYSYNQ_SOURCE_DIR) + "/docs/design.md");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Rows "| OFFSET | SIZE | `FIELD`..." of the table that follows `heading`, until a blank line.
std::map<std::string, std::size_t> offsets_in_table(const std::string &doc,
                                                    const std::string &heading) {
  std::map<std::string, std::size_t> offsets;
  const std::size_t start = doc.find(heading);
  if (start == std::string::npos) {
    return offsets;
  }
  std::istringstream lines(doc.substr(start + heading.size()));
  const std::regex row(R"(^\| (\d+) \| [^|]+ \| `([a-z_0-9]+)`)");
  std::string line;
  std::getline(lines, line); // the rest of the heading's line
  while (std::getline(lines, line) && !line.empty()) {
    std::smatch match;
    if (std::regex_search(line, match, row)) {
      offsets[match[2]] = static_cast<std::size_t>(std::stoul(match[1]));
    }
  }
  return offsets;
}

TEST(MagicDoc, TheMagicInDesignMdIsTheEightBytesTheCodeWrites) {
  const std::string doc = design_md();
  ASSERT_FALSE(doc.empty()) << "docs/design.md not found under " << PYSYNQ_SOURCE_DIR;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(doc, match, std::regex(R"(`magic` = `([^`]*)`)")));
  char bytes[sizeof kMagic];
  std::memcpy(bytes, &kMagic, sizeof kMagic); // as the file holds it (little-endian host)
  EXPECT_EQ(match[1].str(), std::string(bytes, sizeof bytes));
}

TEST(MagicDoc, TheLayoutVersionInDesignMdIsTheCodes) {
  const std::string doc = design_md();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(doc, match, std::regex(R"(`layout_version` = (\d+))")));
  EXPECT_EQ(std::stoul(match[1]), kLayoutVersion);
  ASSERT_TRUE(std::regex_search(doc, match, std::regex(R"(## Segment layout \(layout version (\d+)\))")));
  EXPECT_EQ(std::stoul(match[1]), kLayoutVersion);
}

TEST(MagicDoc, EveryHeaderAndSlotFieldInDesignMdSitsAtTheOffsetOfTheCode) {
  const std::string doc = design_md();
#define PYSYNQ_OFFSET(type, field) {#field, offsetof(type, field)}
  const std::map<std::string, std::size_t> header = {
      PYSYNQ_OFFSET(SegmentHeader, magic),          PYSYNQ_OFFSET(SegmentHeader, layout_version),
      PYSYNQ_OFFSET(SegmentHeader, header_bytes),   PYSYNQ_OFFSET(SegmentHeader, capacity_bytes),
      PYSYNQ_OFFSET(SegmentHeader, max_members),    PYSYNQ_OFFSET(SegmentHeader, member_slot_bytes),
      PYSYNQ_OFFSET(SegmentHeader, members_offset), PYSYNQ_OFFSET(SegmentHeader, ring_offset),
      PYSYNQ_OFFSET(SegmentHeader, segment_bytes),  PYSYNQ_OFFSET(SegmentHeader, state),
      PYSYNQ_OFFSET(SegmentHeader, tail),           PYSYNQ_OFFSET(SegmentHeader, head),
      PYSYNQ_OFFSET(SegmentHeader, unlinked),       PYSYNQ_OFFSET(SegmentHeader, member_count),
      PYSYNQ_OFFSET(SegmentHeader, slots_in_use),
      PYSYNQ_OFFSET(SegmentHeader, ticketed_appenders),
      PYSYNQ_OFFSET(SegmentHeader, reaped_total),   PYSYNQ_OFFSET(SegmentHeader, lock_recoveries),
      PYSYNQ_OFFSET(SegmentHeader, last_reap_check_ns),
      PYSYNQ_OFFSET(SegmentHeader, last_space_ticket),
      PYSYNQ_OFFSET(SegmentHeader, message_futex),  PYSYNQ_OFFSET(SegmentHeader, message_sleepers),
      PYSYNQ_OFFSET(SegmentHeader, message_wake_wanted),
      PYSYNQ_OFFSET(SegmentHeader, space_futex),    PYSYNQ_OFFSET(SegmentHeader, space_sleepers),
      PYSYNQ_OFFSET(SegmentHeader, spin_leases),    PYSYNQ_OFFSET(SegmentHeader, last_wake_ns),
      PYSYNQ_OFFSET(SegmentHeader, lock_kind),      PYSYNQ_OFFSET(SegmentHeader, queue_name),
  };
  const std::map<std::string, std::size_t> slot = {
      PYSYNQ_OFFSET(MemberSlot, cursor),           PYSYNQ_OFFSET(MemberSlot, messages_read),
      PYSYNQ_OFFSET(MemberSlot, backlog_messages), PYSYNQ_OFFSET(MemberSlot, backlog_bytes),
      PYSYNQ_OFFSET(MemberSlot, space_ticket),     PYSYNQ_OFFSET(MemberSlot, space_needed),
      PYSYNQ_OFFSET(MemberSlot, backlog_full),     PYSYNQ_OFFSET(MemberSlot, state),
      PYSYNQ_OFFSET(MemberSlot, waiting),          PYSYNQ_OFFSET(MemberSlot, pid),
      PYSYNQ_OFFSET(MemberSlot, reserved1),        PYSYNQ_OFFSET(MemberSlot, start_time),
      PYSYNQ_OFFSET(MemberSlot, waiting_since_ns), PYSYNQ_OFFSET(MemberSlot, flags),
      PYSYNQ_OFFSET(MemberSlot, sender),           PYSYNQ_OFFSET(MemberSlot, screen_sequence),
      PYSYNQ_OFFSET(MemberSlot, screen_count),     PYSYNQ_OFFSET(MemberSlot, screen_hashes),
  };
#undef PYSYNQ_OFFSET
  // Both directions: every field of the code is in the doc, at its offset, and the doc
  // names no field the code does not have.
  EXPECT_EQ(offsets_in_table(doc, "| offset | size | field | written by | notes |"), header);
  EXPECT_EQ(offsets_in_table(doc, "| slot offset | size | field | notes |"), slot);
}

} // namespace
} // namespace pysyncq::core
