// The shared-memory segment layout: the one place where it is defined.
// docs/design.md has the same table with the reasons; keep both in step and bump
// kLayoutVersion on any change of width, order or meaning.
//
//   offset 0                  SegmentHeader   (11 cache lines)
//   members_offset            MemberSlot[max_members]  (192 bytes each)
//   ring_offset               ring            (capacity_bytes, a multiple of 8)
//
// Offsets only, never pointers: every process maps the segment at its own address.
// Reserved bytes are zero. Geometry fields are written once by the creator, before
// `state` is released to kReady, and never change after.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pysyncq::core {

// The bytes "PYYSYNQ1" as they lie in the file (read as a little-endian u64). The doubled
// Y is historical and part of the format; docs/design.md quotes the same eight bytes, and
// tests/unit/magic_doc_test.cpp keeps the two in step.
inline constexpr std::uint64_t kMagic = 0x3151'4e59'5359'5950ULL;
// 2: backlogs and space tickets. 3: spin leases and the last wake (issue 17), lock_kind
// and the full queue name (issue 18). 4: readers sleep for a message without the lock
// (message_wake_wanted; message_sleepers and the slots' message counts change lock-free).
// 5: appenders wake only the members that want a message (message_wake_wanted became a
// mask of slot bits; each slot publishes what it screens out, on a third line).
inline constexpr std::uint32_t kLayoutVersion = 5;
// The cache line of x86-64 and of most arm64 cores: fields that different processes write
// often live on different lines, so their writes do not contend.
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint64_t kRingAlignment = 8; // records start 8-byte aligned
// The smallest ring: a record's header alone is 16 bytes (core/record.hpp), so a smaller
// ring would hold only one or two short messages.
inline constexpr std::uint64_t kMinCapacity = 64;
inline constexpr std::uint64_t kMaxCapacity = 1ULL << 40; // 1 TiB: offsets stay far from 2^63
// The largest member limit: 2^16 slots of 128 bytes are an 8 MiB member table, which a
// create maps in full before the ring.
inline constexpr std::uint32_t kMaxMembersLimit = 1U << 16;
// Spin leases in the header (SegmentHeader::spin_leases): one cache line of them. A queue
// hands out one per CPU beyond the first (core::spin_lease_count), so 8 serve 9 CPUs;
// past that, more spinners than 8 would only contend for the same line and the lock.
inline constexpr std::uint32_t kSpinLeaseSlots = 8;
// SegmentHeader::queue_name: the longest queue name (254, platform::kMaxQueueNameBytes)
// and at least one NUL, rounded up to whole cache lines.
inline constexpr std::size_t kQueueNameBytes = 4 * kCacheLine;
// The ring starts at a multiple of this, so payload copies start page-aligned. A fixed
// number, not the running machine's page size (platform::page_size()): the layout must
// not depend on the machine. 4096 is the page of x86-64 and of most arm64 Linux kernels;
// on a 16 KiB-page machine (Apple silicon) the ring is still 4096-aligned, only not
// page-aligned.
inline constexpr std::uint64_t kRingOffsetAlignment = 4096;

// SegmentHeader::state
enum SegmentState : std::uint32_t {
  kInitialising = 0, // creator still writing the geometry
  kReady = 1,
};

// MemberSlot::state
enum SlotState : std::uint32_t {
  kSlotFree = 0,
  kSlotActive = 1,
};

// MemberSlot::waiting counts the member's threads asleep in the kernel: for a message in
// the low half, for space in the high half (a handle may be shared by threads). The space
// half changes under the queue lock; the message half lock-free, by the owner's threads
// (an atomic add, and a take-back that only succeeds while the half is non-zero, so a
// close or reap that took the counts back first is never taken back twice).
// MemberSlot::flags
inline constexpr std::uint32_t kSlotSharedByThreads = 1U << 0;

// Each half is 16 bits: a member's threads never number 65536.
inline constexpr unsigned kSleeperCountBits = 16;
inline constexpr std::uint32_t kMessageSleeperUnit = 1U;
inline constexpr std::uint32_t kSpaceSleeperUnit = 1U << kSleeperCountBits;
constexpr std::uint32_t message_sleepers_of(std::uint32_t waiting) noexcept {
  return waiting & (kSpaceSleeperUnit - 1);
}
constexpr std::uint32_t space_sleepers_of(std::uint32_t waiting) noexcept {
  return waiting >> kSleeperCountBits;
}

// Every shared atomic must be lock-free and address-free, or it would not work between
// processes that map the segment at different addresses.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "64-bit atomics in shm");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "32-bit atomics in shm");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8, "atomic adds no lock word");
static_assert(sizeof(std::atomic<std::uint32_t>) == 4, "futex words are 32-bit");

struct alignas(kCacheLine) SegmentHeader {
  // --- line 0: identity and geometry (written once before state = kReady) ---
  std::uint64_t magic;                 // kMagic
  std::uint32_t layout_version;        // kLayoutVersion
  std::uint32_t header_bytes;          // sizeof(SegmentHeader)
  std::uint64_t capacity_bytes;        // ring size, multiple of kRingAlignment
  std::uint32_t max_members;           // member slots
  std::uint32_t member_slot_bytes;     // sizeof(MemberSlot)
  std::uint64_t members_offset;        // from segment start
  std::uint64_t ring_offset;           // from segment start
  std::uint64_t segment_bytes;         // whole file size
  // SYNC POINT: segment ready. Release-stored kReady by the creator after every field
  // above; attachers acquire-load it before trusting the geometry. Also a futex word that
  // attachers sleep on while the creator initialises.
  std::atomic<std::uint32_t> state;
  // Which lock the lock line holds (platform::kLockKind*): attach refuses a segment laid
  // out by another platform's build (the portable build and the Linux build, say).
  std::uint32_t lock_kind;

  // --- line 1: the queue lock, one cache line on every platform ---
  // What lives here depends on the platform implementation (src/platform/robust_mutex.hpp;
  // docs/design.md, "The lock line per platform"), named by lock_kind:
  //   linux (1):          a process-shared robust pthread_mutex_t (40 bytes on glibc
  //                       x86-64), the rest zero.
  //   portable, macOS (2): an 8-byte owner word (pid | start-time tag << 32 | waiters
  //                       bit 63), then a 4-byte wake counter, the rest zero.
  alignas(kCacheLine) std::byte lock_storage[kCacheLine];

  // --- line 2: writer side, changed only under the lock ---
  // SYNC POINT: publish. Release/seq_cst-stored by an appender after the record bytes;
  // readers acquire-load it before reading records below it.
  alignas(kCacheLine) std::atomic<std::uint64_t> tail; // next write position, only grows
  std::atomic<std::uint64_t> head;       // cached slowest cursor (stats, free estimate)
  std::atomic<std::uint32_t> unlinked;   // 1 once the last close removed the name
  std::atomic<std::uint32_t> member_count;
  std::atomic<std::uint32_t> slots_in_use; // highest slot index ever used + 1 (scan bound)
  // Slots holding a space ticket (MemberSlot::space_ticket != 0). Read by every append
  // under the lock: while it is 0 no reservation needs a scan, so the hot path stays flat.
  std::atomic<std::uint32_t> ticketed_appenders;
  std::atomic<std::uint64_t> reaped_total;
  std::atomic<std::uint64_t> lock_recoveries;
  std::atomic<std::uint64_t> last_reap_check_ns; // CLOCK_MONOTONIC of the last liveness scan
  // The last space ticket handed out; tickets give blocked appenders space in the order
  // they started waiting (docs/design.md, "Blocked appenders").
  std::atomic<std::uint64_t> last_space_ticket;

  // --- line 3: message futex, bumped only when a reader announced a sleep ---
  alignas(kCacheLine) std::atomic<std::uint32_t> message_futex;
  // Threads asleep (or about to be) for a message: a hint for the spin rule
  // (core::cpu_is_spare) and stats, never for waking. Lock-free: a sleeper adds 1 before
  // its slot's count and takes it back after it (relaxed: nothing is published through
  // it), so it is never below the slots' sum; a reader killed between the two leaves it
  // one too high, which only makes the spin rule see one more sleeper.
  std::atomic<std::uint32_t> message_sleepers;
  // Which members announced, since they were last woken, that they are going to sleep
  // for a message: bit (slot index % 32), core::wake_bit_of. Set (fetch_or, seq_cst) by
  // the reader before its last look at tail; an appender loads it (seq_cst) after
  // publishing tail and, when it is not 0, picks the announced bits whose members want
  // what it appended (core/wake_filter.hpp), clears those (fetch_and), bumps
  // message_futex and wakes them; the rest stay announced for later appends (Dekker's
  // pattern; docs/design.md, "Waiting without polling"). A reader killed while announced
  // costs a later append one wake, never more: no repair needed.
  std::atomic<std::uint32_t> message_wake_wanted;

  // --- line 4: space futex ---
  alignas(kCacheLine) std::atomic<std::uint32_t> space_futex;
  std::atomic<std::uint32_t> space_sleepers; // changed under the lock

  // --- line 5: spin leases (core::SpinLeases): each word is the CLOCK_MONOTONIC ns at
  // which its holder stops spinning; 0 or past is free. Relaxed CAS by waiters: a lease
  // guards no data, it only bounds how many threads spin at once. Not under the lock.
  alignas(kCacheLine) std::atomic<std::uint64_t> spin_leases[kSpinLeaseSlots];

  // --- line 6: waking ---
  // CLOCK_MONOTONIC ns of the last wake-up of sleepers (either futex word), stored by the
  // waker just before it wakes. A sleeper that wakes learns from it when the event it
  // waited for came, without its own wake-up latency (SpinWait). Relaxed: a hint for
  // learning only; a stale value just teaches less.
  alignas(kCacheLine) std::atomic<std::uint64_t> last_wake_ns;
  std::byte reserved2[kCacheLine - sizeof(std::uint64_t)];

  // --- lines 7-10: the queue's full name, NUL-padded (written once before kReady) ---
  // Where the OS limits shared-memory names (macOS: 30 bytes), a long name's segment is
  // named by a hash (platform::shm_path_for); attach compares this with the name asked
  // for, so two names with one hash are refused, never mixed up, and listings show it.
  alignas(kCacheLine) char queue_name[kQueueNameBytes];
};

static_assert(offsetof(SegmentHeader, magic) == 0, "magic first, so any reader can check it");
static_assert(offsetof(SegmentHeader, layout_version) == 8, "version right after magic");
static_assert(offsetof(SegmentHeader, lock_storage) == 64, "lock on its own line");
static_assert(sizeof(SegmentHeader::lock_storage) == kCacheLine,
              "one fixed size of lock storage on every platform");
static_assert(offsetof(SegmentHeader, tail) == 128, "writer line");
static_assert(offsetof(SegmentHeader, message_futex) == 192, "futex words apart");
static_assert(offsetof(SegmentHeader, message_wake_wanted) == 200, "docs/design.md table");
static_assert(offsetof(SegmentHeader, space_futex) == 256, "futex words apart");
static_assert(offsetof(SegmentHeader, capacity_bytes) == 16, "docs/design.md table");
static_assert(offsetof(SegmentHeader, state) == 56, "docs/design.md table");
static_assert(offsetof(SegmentHeader, unlinked) == 144, "docs/design.md table");
static_assert(offsetof(SegmentHeader, ticketed_appenders) == 156, "docs/design.md table");
static_assert(offsetof(SegmentHeader, last_reap_check_ns) == 176, "docs/design.md table");
static_assert(offsetof(SegmentHeader, last_space_ticket) == 184, "docs/design.md table");
static_assert(offsetof(SegmentHeader, space_sleepers) == 260, "docs/design.md table");
static_assert(offsetof(SegmentHeader, spin_leases) == 320, "docs/design.md table");
static_assert(sizeof(SegmentHeader::spin_leases) == kCacheLine, "leases fill one line");
static_assert(offsetof(SegmentHeader, last_wake_ns) == 384, "docs/design.md table");
static_assert(offsetof(SegmentHeader, lock_kind) == 60, "docs/design.md table");
static_assert(offsetof(SegmentHeader, queue_name) == 448, "docs/design.md table");
static_assert(sizeof(SegmentHeader) == 11 * kCacheLine, "header is 11 cache lines");

// How many screens (senders and types together) a slot can publish for wakers; a member
// with more is woken for every message (core/wake_filter.hpp).
inline constexpr std::uint32_t kScreenHashSlots = 7;
// MemberSlot::screen_count of a member whose screens did not fit: wake it for everything.
inline constexpr std::uint32_t kScreensUnknown = 0xFFFF'FFFFU;

// One registration. Line 0 is written by its owner on every pop; line 1 only when the
// owner joins, leaves or sleeps, so appenders scanning cursors share no line with them;
// line 2 when the owner sleeps with other screens than last time.
struct alignas(kCacheLine) MemberSlot {
  // --- line 0: owner-written read position ---
  // SYNC POINT: consumed. The owner seq_cst-stores its cursor after copying a message
  // out; appenders acquire-load it (under the lock) before reusing the bytes below it.
  std::atomic<std::uint64_t> cursor;
  std::atomic<std::uint64_t> messages_read; // stats only (relaxed)
  // The owner's private backlog (messages it moved out of the ring while blocked
  // appending), mirrored for stats and for other members' deadlock verdicts. Owner-written
  // (relaxed: stats only; a verdict also needs backlog_full, see below).
  std::atomic<std::uint64_t> backlog_messages;
  std::atomic<std::uint64_t> backlog_bytes; // record footprints, at most capacity_bytes
  // The owner's blocking append: its ticket (0: none) and the bytes it needs. Written by
  // the owner under the lock, read by appenders under the lock.
  std::atomic<std::uint64_t> space_ticket;
  std::atomic<std::uint64_t> space_needed;
  // 1 while the owner's last move into its backlog stopped at the backlog's bound with
  // its oldest unread message still in the ring: it cannot free space until it reads.
  // Owner-stored (relaxed) before its next locked look at the queue, so a verdict, which
  // reads it under the lock, sees it once the owner is counted asleep; cleared by its pops.
  std::atomic<std::uint32_t> backlog_full;
  std::byte reserved0[kCacheLine - 52];

  // --- line 1: identity, changed under the lock ---
  // SYNC POINT: slot published. Release-stored kSlotActive after cursor, pid and
  // start_time; scanners acquire-load it before reading those.
  alignas(kCacheLine) std::atomic<std::uint32_t> state;
  std::atomic<std::uint32_t> waiting;       // sleeper counts (see above)
  std::int32_t pid;
  std::uint32_t reserved1;                  // zero (layout 1 kept a deadlock mark here)
  std::uint64_t start_time;                 // /proc/PID/stat field 22, tells pid reuse
  std::atomic<std::uint64_t> waiting_since_ns; // CLOCK_MONOTONIC, stats only
  // kSlotSharedByThreads once a second thread used the registration: another thread may
  // then free its space while one waits, so deadlock detection must not count on it.
  std::atomic<std::uint32_t> flags;
  char sender[kCacheLine - 36];             // stats copy of the sender, truncated, NUL-padded

  // --- line 2: what the owner screens out, for appenders deciding whom to wake ---
  // core/wake_filter.hpp: a seqlock. The owner makes screen_sequence odd, writes the
  // count and hashes (relaxed), and makes it even again (seq_cst, before it announces a
  // sleep). An appender that reads an odd or changed sequence, or a count above
  // kScreenHashSlots, wakes the member. All zero (a fresh slot) screens nothing out.
  alignas(kCacheLine) std::atomic<std::uint32_t> screen_sequence;
  std::atomic<std::uint32_t> screen_count; // hashes in use, or kScreensUnknown
  std::atomic<std::uint64_t> screen_hashes[kScreenHashSlots]; // core::screen_hash values
};

static_assert(offsetof(MemberSlot, cursor) == 0, "cursor line");
static_assert(offsetof(MemberSlot, backlog_messages) == 16, "docs/design.md table");
static_assert(offsetof(MemberSlot, space_ticket) == 32, "docs/design.md table");
static_assert(offsetof(MemberSlot, backlog_full) == 48, "docs/design.md table");
static_assert(offsetof(MemberSlot, state) == kCacheLine, "identity on its own line");
static_assert(offsetof(MemberSlot, start_time) == 80, "docs/design.md table");
static_assert(offsetof(MemberSlot, flags) == 96, "docs/design.md table");
static_assert(offsetof(MemberSlot, sender) == 100, "docs/design.md table");
static_assert(offsetof(MemberSlot, screen_sequence) == 2 * kCacheLine, "screens on line 2");
static_assert(offsetof(MemberSlot, screen_hashes) == 136, "docs/design.md table");
static_assert(sizeof(MemberSlot) == 3 * kCacheLine, "slot is three cache lines");

// A message in the ring: this header, then sender, type and body bytes, then zero
// padding to the next multiple of kRingAlignment. A record may wrap around the ring's
// end at any byte, header included.
struct RecordHeader {
  std::uint32_t sender_bytes;
  std::uint32_t type_bytes;
  std::uint64_t body_bytes;
};
static_assert(sizeof(RecordHeader) == 16, "record header is 16 bytes on the wire");
static_assert(offsetof(RecordHeader, body_bytes) == 8, "no hidden padding");

inline constexpr std::uint64_t kSenderNameCapacity = sizeof(MemberSlot::sender);

/// Geometry derived from the two creation choices; used by creator and attacher alike.
struct Geometry {
  std::uint64_t capacity_bytes;
  std::uint32_t max_members;
  std::uint64_t members_offset;
  std::uint64_t ring_offset;
  std::uint64_t segment_bytes;
};

constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t multiple) noexcept {
  return (value + multiple - 1) / multiple * multiple;
}

constexpr Geometry make_geometry(std::uint64_t capacity_bytes,
                                 std::uint32_t max_members) noexcept {
  Geometry g{};
  g.capacity_bytes = capacity_bytes;
  g.max_members = max_members;
  g.members_offset = sizeof(SegmentHeader);
  g.ring_offset = round_up(g.members_offset + std::uint64_t{max_members} * sizeof(MemberSlot),
                           kRingOffsetAlignment);
  g.segment_bytes = g.ring_offset + capacity_bytes;
  return g;
}

} // namespace pysyncq::core
