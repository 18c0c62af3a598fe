// libFuzzer target: attach to a segment whose header, member table and ring are hostile,
// then inspect, join, append, pop, reap and close. Each must refuse (a pysyncq::Error) or
// work safely: no crash, no sanitizer report, no hang.
//
// The input is XORed over a valid template segment (a queue with members and messages,
// some wrapping), so an empty input is a healthy queue and small inputs are near-valid
// ones; bytes past the template make the file longer. Two things are not fuzzed, by
// design: the lock's cache line (a process that can write the segment can always hold
// the lock for ever, or corrupt the pthread mutex: that is a denial of service the queue
// cannot prevent, see docs/failures.md), and a `state` of "initialising", which only
// makes attach wait its bounded 2 s for a creator, too slow for a fuzzer.
#include "pysyncq/queue.hpp"

#include "core/layout.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

using pysyncq::Deadline;
using pysyncq::Queue;

std::string segment_name() { return "pysyncq-fuzz-" + std::to_string(::getpid()); }

std::string read_segment(const std::string &name) {
  std::string bytes;
  const int fd = ::shm_open(("/" + name).c_str(), O_RDONLY, 0);
  if (fd < 0) {
    return bytes;
  }
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0) {
    bytes.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return bytes;
}

// A queue of 512 bytes and 4 member slots: two members (this process, so alive), eleven
// messages appended, the ring wrapped, one member behind the other.
const std::string &template_segment() {
  static const std::string bytes = [] {
    const std::string name = segment_name() + "-template";
    ::shm_unlink(("/" + name).c_str());
    auto writer = Queue::create(name, {.capacity_bytes = 512, .max_members = 4});
    writer.open("writer");
    auto reader = Queue::attach(name);
    for (int i = 0; i < 11; ++i) {
      writer.append("type" + std::to_string(i % 3),
                    std::string(static_cast<std::size_t>(9 * i), static_cast<char>('a' + i)));
      (void)writer.pop();
      if (i == 6) {
        reader.open("reader"); // joins mid-way, then trails the writer by one message
      }
      if (i >= 8) {
        (void)reader.pop();
      }
    }
    std::string copy = read_segment(name);
    ::shm_unlink(("/" + name).c_str());
    return copy;
  }();
  return bytes;
}

bool write_segment(const std::string &name, const std::string &bytes) {
  ::shm_unlink(("/" + name).c_str());
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return false;
  }
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  return ok;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using pysyncq::core::SegmentHeader;
  std::string segment = template_segment();
  const std::size_t lock_begin = offsetof(SegmentHeader, lock_storage);
  const std::size_t lock_end = lock_begin + sizeof(SegmentHeader::lock_storage);
  for (std::size_t i = 0; i < size; ++i) {
    if (i >= segment.size()) {
      segment.push_back(static_cast<char>(data[i]));
    } else if (i < lock_begin || i >= lock_end) {
      segment[i] = static_cast<char>(segment[i] ^ static_cast<char>(data[i]));
    }
  }
  std::uint32_t state = 0;
  std::memcpy(&state, segment.data() + offsetof(SegmentHeader, state), sizeof state);
  if (state == pysyncq::core::kInitialising) {
    state = 7; // neither initialising nor ready
    std::memcpy(segment.data() + offsetof(SegmentHeader, state), &state, sizeof state);
  }

  const std::string name = segment_name();
  if (!write_segment(name, segment)) {
    __builtin_trap();
  }
  try {
    auto queue = Queue::attach(name);
    (void)queue.stats();
    (void)Queue::footprint(0, 0, 0);
    queue.open("fuzz");
    (void)queue.try_append("t", "a message from the fuzzer");
    for (int i = 0; i < 64 && queue.pop(Deadline::now()); ++i) {
    }
    (void)queue.reap();
    (void)queue.stats();
    queue.close();
  } catch (const pysyncq::Error &) {
    // Refused: the expected answer to most hostile segments.
  }
  ::shm_unlink(("/" + name).c_str());
  return 0;
}
