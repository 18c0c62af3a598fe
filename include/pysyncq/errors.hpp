// Typed errors of the pysyncq C++ API.
//
// Every failure that is not a routine outcome throws one of these. Routine outcomes
// (queue full on try_append, no message on pop) are return values instead.
// The Python binding maps each type to a builtin exception (python/src/errors.cpp).
#pragma once

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pysyncq {

/// Base of every pysyncq exception.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The message does not fit: the queue is full (and the wait, if any, expired), or the
/// message is larger than the whole capacity. Python: MemoryError.
class QueueFull : public Error {
public:
  QueueFull(const std::string &what, std::uint64_t needed_bytes, std::uint64_t free_bytes,
            std::uint64_t capacity_bytes)
      : Error(what), needed_bytes_(needed_bytes), free_bytes_(free_bytes),
        capacity_bytes_(capacity_bytes) {}
  std::uint64_t needed_bytes() const noexcept { return needed_bytes_; }
  std::uint64_t free_bytes() const noexcept { return free_bytes_; }
  std::uint64_t capacity_bytes() const noexcept { return capacity_bytes_; }

private:
  std::uint64_t needed_bytes_;
  std::uint64_t free_bytes_;
  std::uint64_t capacity_bytes_;
};

/// A blocking append can never succeed: every member that holds back the oldest unread
/// message is itself blocked waiting for space (or is the caller). Python: MemoryError.
class Deadlock : public QueueFull {
public:
  Deadlock(const std::string &what, std::uint64_t needed_bytes, std::uint64_t free_bytes,
           std::uint64_t capacity_bytes, std::vector<int> blocked_pids)
      : QueueFull(what, needed_bytes, free_bytes, capacity_bytes),
        blocked_pids_(std::move(blocked_pids)) {}
  const std::vector<int> &blocked_pids() const noexcept { return blocked_pids_; }

private:
  std::vector<int> blocked_pids_;
};

/// A caller's argument is out of range (size, name, sender...). Python: ValueError.
class InvalidArgument : public Error {
public:
  using Error::Error;
};

/// The segment exists but is not a pysyncq queue, or its contents are corrupt.
/// Python: ValueError.
class NotAQueue : public Error {
public:
  using Error::Error;
};

/// The segment is a pysyncq queue of another layout version. Python: ValueError.
class LayoutMismatch : public NotAQueue {
public:
  using NotAQueue::NotAQueue;
};

/// The operation needs a registration (open) that this process does not hold: never
/// opened, closed, or opened by the parent before a fork. Python: ValueError.
class NotOpen : public Error {
public:
  using Error::Error;
};

/// Every member slot of the queue is taken (the limit is chosen at creation).
/// Python: RuntimeError.
class TooManyMembers : public Error {
public:
  using Error::Error;
};

/// A wait was aborted because the interrupt hook asked for it (a binding saw a signal).
class Interrupted : public Error {
public:
  using Error::Error;
};

/// A system call failed. Python: OSError with the same errno (so ENOENT becomes
/// FileNotFoundError, EEXIST FileExistsError, EACCES PermissionError).
class SyscallError : public Error {
public:
  SyscallError(const std::string &what, int error_number)
      : Error(what), error_number_(error_number) {}
  int error_number() const noexcept { return error_number_; }

private:
  int error_number_;
};

/// The segment belongs to another user (its file's owner is not this process's effective
/// uid), and the caller did not allow that (AttachOptions::allow_foreign_owner). Whoever
/// owns a segment can read and rewrite every message in it, so a queue under a name that
/// someone else created first is refused. Python: PermissionError (errno EPERM).
class ForeignOwner : public SyscallError {
public:
  ForeignOwner(const std::string &what, unsigned owner_uid)
      : SyscallError(what, EPERM), owner_uid_(owner_uid) {}
  unsigned owner_uid() const noexcept { return owner_uid_; }

private:
  unsigned owner_uid_;
};

/// An inspection (stats, reap, unlink) did not get the queue lock within
/// AttachOptions::inspect_lock_timeout: a process holds it and does not let go (hung, or
/// hostile). Carries the holder's thread id as the lock word names it (0 when the word
/// names nobody) and how long the caller waited. Python: TimeoutError (errno ETIMEDOUT).
class LockHeld : public SyscallError {
public:
  LockHeld(const std::string &what, int holder_pid, double waited_seconds)
      : SyscallError(what, ETIMEDOUT), holder_pid_(holder_pid), waited_seconds_(waited_seconds) {}
  int holder_pid() const noexcept { return holder_pid_; }
  double waited_seconds() const noexcept { return waited_seconds_; }

private:
  int holder_pid_;
  double waited_seconds_;
};

} // namespace pysyncq
