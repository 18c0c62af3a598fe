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
  // This process's own copy of the geometry, validated once at attach (or made at
  // create). Every later access is bounded by it, never by the header, which any writer
  // to the segment can change under us (STYLE.md: never trust shared memory twice).
  core::Geometry geometry{};
  core::MemberTable members;
  core::Ring ring;

  static Segment create(std::string_view name, const CreateOptions &options);
  static Segment attach(std::string_view name, const AttachOptions &options = {});

  /// Under the lock: throws NotAQueue unless the header's geometry still equals the copy
  /// taken at attach (a change is corruption or a hostile writer; nothing is read from it).
  void require_geometry_unchanged() const;

  /// Unlinks the name if it still refers to this segment (not to a newer queue that
  /// took the name after ours was removed), once per segment. Call under the lock.
  void unlink_once();
  /// Unlinks the name now and, once that worked, marks the segment so that its last close
  /// leaves the name alone. Throws SyscallError (ENOENT when the name is gone already,
  /// EPERM or EACCES when this user may not remove it; then nothing is marked).
  void unlink_now();
};

} // namespace pysyncq
