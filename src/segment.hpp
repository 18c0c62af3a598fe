// A queue segment as a mapped, validated object: creating one (geometry, lock, publish
// last), attaching to one (wait for the creator, refuse what is not ours), listing them.
#pragma once

#include "core/layout.hpp"
#include "core/membership.hpp"
#include "core/ring.hpp"
#include "platform/shm.hpp"
#include "pysyncq/queue.hpp"

#include <string>

namespace pysyncq {

struct Segment {
  std::string name; // without the leading '/'
  std::string path; // as shm_open wants it
  platform::SharedMemory memory;
  core::SegmentHeader *header = nullptr;
  core::MemberTable members;
  core::Ring ring;

  static Segment create(std::string_view name, const CreateOptions &options);
  static Segment attach(std::string_view name);

  /// Unlinks the name if it still refers to this segment (not to a newer queue that
  /// took the name after ours was removed), once per segment. Call under the lock.
  void unlink_once();
};

} // namespace pysyncq
