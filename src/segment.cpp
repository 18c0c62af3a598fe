#include "segment.hpp"
#include "backend.hpp"

#include "platform/crash_point.hpp"

#include "platform/futex.hpp"
#include "platform/robust_mutex.hpp"
#include "platform/syscall.hpp"
#include "platform/system.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

namespace pysyncq {

namespace {

using namespace std::chrono_literals;

// The permission bits a queue's mode may have (rwx for owner, group and others); no
// set-id or sticky bits, which mean nothing for shared memory.
constexpr unsigned kPermissionBits = 0777;
// The size of pthread_mutex_t on glibc for 64-bit targets, the smallest lock slot the
// layout may have; robust_mutex_bytes() checks the real size at run time too.
constexpr std::size_t kMinMutexBytes = 40;
// How often an attacher looks again at a segment whose creator has not sized it yet: a
// creator takes microseconds between its two system calls, so a millisecond wastes
// little and does not spin.
constexpr auto kCreatorPoll = 1ms;

// Binds the header, member table and ring from `geometry`, this process's validated
// copy: never from the header again, which may have changed since it was validated.
void bind(Segment &segment, const core::Geometry &geometry) {
  std::byte *base = segment.memory.data();
  segment.geometry = geometry;
  segment.header = reinterpret_cast<core::SegmentHeader *>(base);
  segment.members = core::MemberTable(
      segment.header, reinterpret_cast<core::MemberSlot *>(base + geometry.members_offset),
      geometry.max_members, geometry.capacity_bytes);
  segment.ring = core::Ring(base + geometry.ring_offset, geometry.capacity_bytes);
}

std::string describe(const std::string &name) { return "'" + name + "'"; }

// One read of each geometry field. Relaxed atomic loads: the fields are plain integers
// that the creator wrote before its release of `state` (which the caller acquired), but a
// hostile writer may change them at any time; a copy read once is what gets validated
// and used, so a change after this read cannot slip between the check and the use.
template <class T> T load_once(const T &field) noexcept {
  return std::atomic_ref<T>(const_cast<T &>(field)).load(std::memory_order_relaxed);
}

struct HeaderSnapshot {
  std::uint32_t layout_version;
  std::uint32_t lock_kind;
  std::string queue_name; // up to the first NUL of the field, never past it
  std::uint32_t header_bytes;
  std::uint32_t member_slot_bytes;
  core::Geometry geometry;
};

HeaderSnapshot snapshot(const core::SegmentHeader &header) noexcept {
  HeaderSnapshot copy{};
  copy.layout_version = load_once(header.layout_version);
  copy.lock_kind = load_once(header.lock_kind);
  char name[core::kQueueNameBytes];
  for (std::size_t i = 0; i < sizeof name; ++i) {
    name[i] = load_once(header.queue_name[i]);
  }
  copy.queue_name.assign(name, strnlen(name, sizeof name));
  copy.header_bytes = load_once(header.header_bytes);
  copy.member_slot_bytes = load_once(header.member_slot_bytes);
  copy.geometry.capacity_bytes = load_once(header.capacity_bytes);
  copy.geometry.max_members = load_once(header.max_members);
  copy.geometry.members_offset = load_once(header.members_offset);
  copy.geometry.ring_offset = load_once(header.ring_offset);
  copy.geometry.segment_bytes = load_once(header.segment_bytes);
  return copy;
}

// Refuses every geometry that append and pop could not use safely; returns the copy that
// the process then uses for ever.
core::Geometry validate(const std::string &name, const HeaderSnapshot &header,
                        std::uint64_t file_bytes) {
  const auto refuse = [&](const std::string &why) {
    throw NotAQueue("shared memory " + describe(name) + " is not a usable pysyncq queue: " + why);
  };
  if (header.layout_version != core::kLayoutVersion) {
    throw LayoutMismatch("shared memory " + describe(name) + " is a pysyncq queue of layout " +
                         std::to_string(header.layout_version) + ", but this library reads layout " +
                         std::to_string(core::kLayoutVersion));
  }
  if (header.lock_kind != platform::robust_mutex_kind()) {
    throw LayoutMismatch("shared memory " + describe(name) + " is a pysyncq queue whose lock is of kind " +
                         std::to_string(header.lock_kind) + ", but this library's platform uses kind " +
                         std::to_string(platform::robust_mutex_kind()) +
                         " (docs/design.md, \"The lock line per platform\")");
  }
  if (header.queue_name != name) {
    refuse("it holds the queue '" + header.queue_name +
           "' (a long name's segment is named by a hash, and two names met on one)");
  }
  if (header.header_bytes != sizeof(core::SegmentHeader) ||
      header.member_slot_bytes != sizeof(core::MemberSlot)) {
    refuse("header or member slot size differs from this library's");
  }
  if (header.geometry.capacity_bytes < core::kMinCapacity || header.geometry.capacity_bytes > core::kMaxCapacity ||
      header.geometry.capacity_bytes % core::kRingAlignment != 0) {
    refuse("capacity " + std::to_string(header.geometry.capacity_bytes) + " is out of range");
  }
  if (header.geometry.max_members == 0 || header.geometry.max_members > core::kMaxMembersLimit) {
    refuse("member limit " + std::to_string(header.geometry.max_members) + " is out of range");
  }
  const core::Geometry expected = core::make_geometry(header.geometry.capacity_bytes, header.geometry.max_members);
  if (header.geometry.members_offset != expected.members_offset ||
      header.geometry.ring_offset != expected.ring_offset ||
      header.geometry.segment_bytes != expected.segment_bytes) {
    refuse("its offsets do not match its capacity and member limit");
  }
  if (file_bytes < header.geometry.segment_bytes) {
    refuse("the file has " + std::to_string(file_bytes) + " bytes but the header says " +
           std::to_string(header.geometry.segment_bytes));
  }
  return expected;
}

} // namespace

Segment Segment::create(std::string_view name, const CreateOptions &options) {
  std::uint64_t capacity = options.capacity_bytes;
  if (capacity == 0) {
    capacity = Queue::Impl::default_capacity_bytes();
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
  if (options.mode > kPermissionBits) {
    throw InvalidArgument("mode " + std::to_string(options.mode) + " is not a permission mask");
  }
  static_assert(sizeof(core::SegmentHeader::lock_storage) >= kMinMutexBytes,
                "room for pthread_mutex_t");
  if (platform::robust_mutex_bytes() > sizeof(core::SegmentHeader::lock_storage)) {
    throw Error("the platform's lock does not fit the layout's lock line");
  }
  static_assert(core::kQueueNameBytes > platform::kMaxQueueNameBytes, "a name and its NUL");

  const core::Geometry geometry = core::make_geometry(capacity, options.max_members);
  Segment segment;
  segment.path = platform::shm_path_for(name);
  segment.name = platform::queue_name_for(name);
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
  header->lock_kind = platform::robust_mutex_kind();
  segment.name.copy(header->queue_name, sizeof header->queue_name - 1); // NUL-padded: zero file
  try {
    platform::robust_mutex_init(header->lock_storage);
  } catch (...) {
    platform::SharedMemory::unlink(segment.path);
    throw;
  }
  bind(segment, geometry);
  // SYNC POINT: segment ready (release; attachers acquire).
  header->state.store(core::kReady, std::memory_order_release);
  platform::futex_wake_all(header->state);
  return segment;
}

Segment Segment::attach(std::string_view name, const AttachOptions &options) {
  Segment segment;
  segment.path = platform::shm_path_for(name);
  segment.name = platform::queue_name_for(name);
  segment.memory = platform::SharedMemory::open(segment.path);
  // Before anything is read: a segment someone else owns could be a squatter's, who
  // reads and rewrites every message (docs/failures.md, "A hostile local user").
  const unsigned owner = segment.memory.owner_uid();
  if (!options.allow_foreign_owner && owner != platform::effective_user_id()) {
    throw ForeignOwner("shared memory " + describe(segment.name) + " belongs to uid " +
                           std::to_string(owner) + ", not to this process's uid " +
                           std::to_string(platform::effective_user_id()) +
                           "; refused, since its owner can read and rewrite every message "
                           "(allow it with allow_foreign_owner, or syncq --allow-foreign-owner)",
                       owner);
  }
  const Deadline deadline = Deadline::after(options.creator_timeout);

  // A creator sizes the file in one step (posix_fallocate), so it is either empty
  // (still being created: wait) or complete.
  std::uint64_t file_bytes = segment.memory.current_size();
  while (file_bytes == 0 && !deadline.has_passed()) {
    std::this_thread::sleep_for(kCreatorPoll); // only while a creator is between two calls
    file_bytes = segment.memory.current_size();
  }
  if (file_bytes < sizeof(core::SegmentHeader)) {
    throw NotAQueue("shared memory " + describe(segment.name) + " is not a pysyncq queue: it has " +
                    std::to_string(file_bytes) + " bytes, fewer than a queue header (" +
                    std::to_string(sizeof(core::SegmentHeader)) + ")");
  }
  segment.memory.map(file_bytes);
  auto *header = reinterpret_cast<core::SegmentHeader *>(segment.memory.data());

  if (load_once(header->magic) != core::kMagic && load_once(header->magic) != 0) {
    throw NotAQueue("shared memory " + describe(segment.name) +
                    " is not a pysyncq queue (no pysyncq magic number at its start)");
  }
  // SYNC POINT: segment ready (acquire; pairs with the creator's release).
  std::uint32_t state = header->state.load(std::memory_order_acquire);
  while (state != core::kReady && !deadline.has_passed()) {
    if (state != core::kInitialising ||
        platform::futex_wait(header->state, state, deadline) ==
            platform::FutexWaitResult::kTimedOut) {
      break;
    }
    state = header->state.load(std::memory_order_acquire);
  }
  if (state != core::kReady || load_once(header->magic) != core::kMagic) {
    throw NotAQueue("shared memory " + describe(segment.name) +
                    " is not a pysyncq queue (no pysyncq header; if a creator is still "
                    "initialising it, it has not finished within " +
                    std::to_string(options.creator_timeout.count()) + " ms)");
  }
  bind(segment, validate(segment.name, snapshot(*header), file_bytes));
  // A removed queue whose name still finds it: on Windows, where a name lives as long as
  // any handle (platform/shm.hpp, SharedMemory::unlink), removing only marks the header.
  // Refused as a missing name is, so "removed" means the same on every OS. (On POSIX the
  // name is gone before the mark is set, so this is never seen there.) Relaxed: a flag
  // that only ever goes from 0 to 1; an attach that misses it raced the removal.
  if (header->unlinked.load(std::memory_order_relaxed) != 0U) {
    platform::throw_syscall_error("attach", segment.path + " (removed, still open elsewhere)",
                                  ENOENT);
  }
  return segment;
}

void Segment::require_geometry_unchanged() const {
  // Runs on every lock, so on every append: two relaxed loads from line 0 of the header,
  // which nobody writes after creation and so stays shared in every core's cache (a few
  // nanoseconds; pysyncq_hotpath loop: no change beyond its noise). Relaxed: nothing is read
  // *through* these values; they are only compared with our copy, which is what every
  // access uses. These two, because the offsets and the segment size follow from them
  // (make_geometry): a header that changed them describes another queue than the one we
  // attached to. A change of the offsets alone cannot mislead us (we never read them
  // again); the next attach refuses it.
  if (load_once(header->capacity_bytes) != geometry.capacity_bytes ||
      load_once(header->max_members) != geometry.max_members) {
    throw NotAQueue("corrupt queue " + describe(name) +
                    ": its header's geometry changed after this process attached (capacity " +
                    std::to_string(load_once(header->capacity_bytes)) + ", was " +
                    std::to_string(geometry.capacity_bytes) + "; member limit " +
                    std::to_string(load_once(header->max_members)) + ", was " +
                    std::to_string(geometry.max_members) + ")");
  }
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

void Segment::unlink_now() {
  // Unlink first, mark only on success: marked first, a refused unlink (EPERM: another
  // user's queue in the sticky /dev/shm) would leave a name that no last close removes.
  if (!platform::SharedMemory::unlink(path)) {
    platform::throw_syscall_error("shm_unlink", path, ENOENT);
  }
  // Relaxed: a flag read under the lock by the last close (unlink_once), and only to skip
  // an unlink that would find the name gone anyway (name_refers_here). syncq rm --force
  // calls this without the lock: a close that misses the store finds no name to remove.
  header->unlinked.store(1, std::memory_order_relaxed);
}

} // namespace pysyncq
