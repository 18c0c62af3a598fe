// Listing the shared-memory queues of this machine (syncq ls, list_queues()).
#include "backend.hpp"
#include "core/layout.hpp"
#include "platform/shm.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

namespace pysyncq {

namespace {
// A segment named by a hash (a long name where the OS limits names: macOS, the portable
// build) is listed under the full name its header keeps, when that name is valid and
// hashes to this very segment; any other segment keeps its file name.
std::string full_queue_name(std::string file_name, const std::string &header) {
  const char *field = header.data() + offsetof(core::SegmentHeader, queue_name);
  std::string name(field, strnlen(field, core::kQueueNameBytes));
  try {
    if (name != file_name && platform::shm_path_for(name) == "/" + file_name) {
      return name;
    }
  } catch (const InvalidArgument &) {
    // not a queue name: keep the file's
  }
  return file_name;
}
} // namespace

std::vector<SegmentInfo> list_segments() {
  // The header up to the full name: the magic and the state word (offset 56) tell a
  // queue from a file that only starts like one, without mapping anything or waiting
  // for anyone; the name is what a hashed segment name stands for.
  constexpr std::size_t kPrefixBytes = sizeof(core::SegmentHeader);
  std::vector<SegmentInfo> segments;
  for (platform::ShmEntry &entry : platform::list_shm_entries(kPrefixBytes)) {
    SegmentInfo info;
    info.name = std::move(entry.name);
    switch (entry.kind) {
    case platform::ShmEntry::Kind::kNotRegular:
      info.detail = "not a regular file (a FIFO, socket, device, directory or link)";
      break;
    case platform::ShmEntry::Kind::kUnreadable:
      info.detail = "not readable by this user";
      break;
    case platform::ShmEntry::Kind::kRegular:
      if (entry.prefix.empty()) {
        info.detail = "empty";
      } else if (entry.prefix.size() < sizeof core::kMagic ||
                 std::memcmp(entry.prefix.data(), &core::kMagic, sizeof core::kMagic) != 0) {
        info.detail = "no pysyncq magic";
      } else {
        std::uint32_t state = core::kInitialising;
        if (entry.prefix.size() == kPrefixBytes) {
          std::memcpy(&state, entry.prefix.data() + offsetof(core::SegmentHeader, state),
                      sizeof state);
        }
        info.kind =
            state == core::kReady ? SegmentInfo::Kind::kQueue : SegmentInfo::Kind::kInitialising;
        info.owner_uid = entry.owner_uid;
        if (state == core::kReady) {
          info.name = full_queue_name(std::move(info.name), entry.prefix);
        }
      }
      break;
    }
    segments.push_back(std::move(info));
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentInfo &a, const SegmentInfo &b) { return a.name < b.name; });
  return segments;
}

std::vector<std::string> list_queues() {
  std::vector<std::string> names;
  for (SegmentInfo &segment : list_segments()) {
    if (segment.kind == SegmentInfo::Kind::kQueue) {
      names.push_back(std::move(segment.name));
    }
  }
  return names;
}

} // namespace pysyncq
