#include "segment.hpp"

#include "platform/crash_point.hpp"

#include "platform/futex.hpp"
#include "platform/robust_mutex.hpp"

#include <chrono>
#include <thread>
#include <unistd.h>

namespace pysyncq {

namespace {

using namespace std::chrono_literals;

// How long an attacher waits for a creator that is still initialising the segment.
constexpr auto kInitialisationTimeout = 2s;

core::MemberSlot *slots_of(std::byte *base, const core::SegmentHeader &header) noexcept {
  return reinterpret_cast<core::MemberSlot *>(base + header.members_offset);
}

void bind(Segment &segment) {
  std::byte *base = segment.memory.data();
  segment.header = reinterpret_cast<core::SegmentHeader *>(base);
  segment.members = core::MemberTable(segment.header, slots_of(base, *segment.header));
  segment.ring = core::Ring(base + segment.header->ring_offset, segment.header->capacity_bytes);
}

std::string describe(const std::string &name) { return "'" + name + "'"; }

// Refuses every geometry that append and pop could not use safely.
void validate(const std::string &name, const core::SegmentHeader &header,
              std::uint64_t file_bytes) {
  const auto refuse = [&](const std::string &why) {
    throw NotAQueue("shared memory " + describe(name) + " is not a usable pysyncq queue: " + why);
  };
  if (header.layout_version != core::kLayoutVersion) {
    throw LayoutMismatch("shared memory " + describe(name) + " is a pysyncq queue of layout " +
                         std::to_string(header.layout_version) + ", but this library reads layout " +
                         std::to_string(core::kLayoutVersion));
  }
  if (header.header_bytes != sizeof(core::SegmentHeader) ||
      header.member_slot_bytes != sizeof(core::MemberSlot)) {
    refuse("header or member slot size differs from this library's");
  }
  if (header.capacity_bytes < core::kMinCapacity || header.capacity_bytes > core::kMaxCapacity ||
      header.capacity_bytes % core::kRingAlignment != 0) {
    refuse("capacity " + std::to_string(header.capacity_bytes) + " is out of range");
  }
  if (header.max_members == 0 || header.max_members > core::kMaxMembersLimit) {
    refuse("member limit " + std::to_string(header.max_members) + " is out of range");
  }
  const core::Geometry expected = core::make_geometry(header.capacity_bytes, header.max_members);
  if (header.members_offset != expected.members_offset ||
      header.ring_offset != expected.ring_offset ||
      header.segment_bytes != expected.segment_bytes) {
    refuse("its offsets do not match its capacity and member limit");
  }
  if (file_bytes < header.segment_bytes) {
    refuse("the file has " + std::to_string(file_bytes) + " bytes but the header says " +
           std::to_string(header.segment_bytes));
  }
}

} // namespace

Segment Segment::create(std::string_view name, const CreateOptions &options) {
  std::uint64_t capacity = options.capacity_bytes;
  if (capacity == 0) {
    capacity = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }
  if (capacity < core::kMinCapacity) {
    throw InvalidArgument("capacity of " + std::to_string(capacity) +
                          " bytes is too small; a queue needs at least " +
                          std::to_string(core::kMinCapacity));
  }
  if (capacity > core::kMaxCapacity) {
    throw InvalidArgument("capacity of " + std::to_string(capacity) +
                          " bytes is too large; at most " + std::to_string(core::kMaxCapacity) +
                          " are allowed");
  }
  capacity = core::round_up(capacity, core::kRingAlignment);
  if (options.max_members == 0 || options.max_members > core::kMaxMembersLimit) {
    throw InvalidArgument("member limit " + std::to_string(options.max_members) +
                          " is out of range 1.." + std::to_string(core::kMaxMembersLimit));
  }
  if (options.mode > 0777) {
    throw InvalidArgument("mode " + std::to_string(options.mode) + " is not a permission mask");
  }
  static_assert(sizeof(core::SegmentHeader::lock_storage) >= 40, "room for pthread_mutex_t");
  if (platform::robust_mutex_bytes() > sizeof(core::SegmentHeader::lock_storage)) {
    throw Error("pthread_mutex_t does not fit the layout's lock slot");
  }

  const core::Geometry geometry = core::make_geometry(capacity, options.max_members);
  Segment segment;
  segment.path = platform::shm_path_for(name);
  segment.name = segment.path.substr(1);
  segment.memory = platform::SharedMemory::create(segment.path, geometry.segment_bytes, options.mode);

  // The file is zero-filled: every counter, cursor, slot state and reserved byte is 0.
  auto *header = reinterpret_cast<core::SegmentHeader *>(segment.memory.data());
  header->magic = core::kMagic;
  header->layout_version = core::kLayoutVersion;
  header->header_bytes = sizeof(core::SegmentHeader);
  header->capacity_bytes = geometry.capacity_bytes;
  header->max_members = geometry.max_members;
  header->member_slot_bytes = sizeof(core::MemberSlot);
  header->members_offset = geometry.members_offset;
  header->ring_offset = geometry.ring_offset;
  header->segment_bytes = geometry.segment_bytes;
  try {
    platform::robust_mutex_init(header->lock_storage);
  } catch (...) {
    platform::SharedMemory::unlink(segment.path);
    throw;
  }
  bind(segment);
  // SYNC POINT: segment ready (release; attachers acquire).
  header->state.store(core::kReady, std::memory_order_release);
  platform::futex_wake_all(header->state);
  return segment;
}

Segment Segment::attach(std::string_view name) {
  Segment segment;
  segment.path = platform::shm_path_for(name);
  segment.name = segment.path.substr(1);
  segment.memory = platform::SharedMemory::open(segment.path);
  const Deadline deadline = Deadline::after(kInitialisationTimeout);

  // A creator sizes the file in one step (posix_fallocate), so it is either empty
  // (still being created: wait) or complete.
  std::uint64_t file_bytes = segment.memory.current_size();
  while (file_bytes == 0 && !deadline.has_passed()) {
    std::this_thread::sleep_for(1ms); // only while a creator is between two system calls
    file_bytes = segment.memory.current_size();
  }
  if (file_bytes < sizeof(core::SegmentHeader)) {
    throw NotAQueue("shared memory " + describe(segment.name) + " is not a pysyncq queue: it has " +
                    std::to_string(file_bytes) + " bytes, fewer than a queue header (" +
                    std::to_string(sizeof(core::SegmentHeader)) + ")");
  }
  segment.memory.map(file_bytes);
  auto *header = reinterpret_cast<core::SegmentHeader *>(segment.memory.data());

  if (header->magic != core::kMagic && header->magic != 0) {
    throw NotAQueue("shared memory " + describe(segment.name) +
                    " is not a pysyncq queue (no pysyncq magic number at its start)");
  }
  // SYNC POINT: segment ready (acquire; pairs with the creator's release).
  std::uint32_t state = header->state.load(std::memory_order_acquire);
  while (state != core::kReady) {
    if (state != core::kInitialising ||
        platform::futex_wait(header->state, state, deadline) ==
            platform::FutexWaitResult::kTimedOut) {
      break;
    }
    state = header->state.load(std::memory_order_acquire);
  }
  if (state != core::kReady || header->magic != core::kMagic) {
    throw NotAQueue("shared memory " + describe(segment.name) +
                    " is not a pysyncq queue (no pysyncq header; if a creator is still "
                    "initialising it, it has not finished within 2 s)");
  }
  validate(segment.name, *header, file_bytes);
  bind(segment);
  return segment;
}

void Segment::unlink_once() {
  // Relaxed: read and written under the lock.
  if (header->unlinked.load(std::memory_order_relaxed) != 0U) {
    return;
  }
  // Unlink, then mark: a process killed in between leaves the mark unset, and the next
  // last close unlinks again (a no-op: the name is gone or names a newer queue). Marked
  // first, a kill in between would leave the name for ever.
  if (memory.name_refers_here()) {
    platform::SharedMemory::unlink(path);
  }
  PYSYNCQ_CRASH_POINT("close.unlinking");
  header->unlinked.store(1, std::memory_order_relaxed);
}

} // namespace pysyncq
