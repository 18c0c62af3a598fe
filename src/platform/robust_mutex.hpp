// The queue lock: crash-safe and shared between processes, stored in the segment's lock
// line (SegmentHeader::lock_storage, one cache line on every OS). Crash-safe means that
// when its holder dies, the next locker gets the lock with a note (owner_died(), the
// POSIX EOWNERDEAD) instead of waiting for ever; it repairs what the dead holder left,
// then marks the lock consistent.
//
// Per platform (chosen by CMake): linux/robust_mutex.cpp is a process-shared robust
// pthread mutex, whose holder's death the kernel reports; portable/owner_lock.cpp (macOS,
// and the portable build on Linux) is an atomic word naming its holder by pid and start
// time, taken over from a dead holder by a waiter; windows/robust_mutex.cpp is a named
// kernel mutex, whose holder's death the kernel reports (WAIT_ABANDONED).
#pragma once

#include "pysyncq/deadline.hpp"

#include <cstddef>
#include <cstdint>

namespace pysyncq::platform {

/// What a segment's lock line holds, stored in its header (SegmentHeader::lock_kind) so
/// that a build never uses a lock line that another platform's build laid out.
inline constexpr std::uint32_t kLockKindRobustPthread = 1; // linux
inline constexpr std::uint32_t kLockKindOwnerWord = 2;     // portable, macOS
inline constexpr std::uint32_t kLockKindWindowsMutex = 3;  // windows
/// This build's kind.
std::uint32_t robust_mutex_kind() noexcept;

/// Bytes the lock needs in lock_storage; the layout reserves a cache line.
std::size_t robust_mutex_bytes() noexcept;

/// Constructs the mutex in `storage` (creator only, before the segment is published).
void robust_mutex_init(std::byte *storage);

/// Holds the lock for a scope. owner_died() tells whether the previous holder died
/// holding it; the holder must then repair and call mark_consistent() before unlocking.
class RobustLock {
public:
  explicit RobustLock(std::byte *storage);
  /// Tries until `deadline`; held() tells whether it got the lock. For tools that look
  /// at a queue and must not hang on a lock that a hung or hostile process holds.
  RobustLock(std::byte *storage, Deadline deadline);
  RobustLock(const RobustLock &) = delete;
  RobustLock &operator=(const RobustLock &) = delete;
  ~RobustLock();

  bool held() const noexcept { return held_; }
  bool owner_died() const noexcept { return owner_died_; }
  void mark_consistent();

private:
  std::byte *storage_;
  bool held_ = true;
  bool owner_died_ = false;
};

/// The thread (Linux) or process (macOS, Windows) that the lock word names as the holder now, 0 when it
/// names nobody (stale on return; the word may have been written by anyone who can write
/// the segment).
int robust_mutex_holder(const std::byte *storage) noexcept;

} // namespace pysyncq::platform
