// Which segment an address belongs to, for the Windows parts of the seam that get only an
// address: the lock (RobustLock gets the lock line) and waits (futex_wait gets a word).
// Windows shares no kernel object through memory, so each of them is a named object whose
// name is the segment's ("Local\pysyncq-NAME") plus a suffix after '/', which no queue
// name holds: "/lock" for the lock's mutex, "/wOFFSET" for the event of the word at that
// offset. SharedMemory::map registers a view, unmap forgets it and closes its handles;
// the named objects die with the last handle in any process, as the mapping does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pysyncq::platform::windows {

/// Registers the view [base, base + bytes) of segment `object_name`, and opens (or
/// creates) the segment's lock mutex. Throws SyscallError.
void register_view(std::byte *base, std::uint64_t bytes, const std::string &object_name);
/// Forgets the view at `base` and closes its handles. Never throws.
void unregister_view(const std::byte *base) noexcept;

/// The lock mutex of the segment holding `address` (a HANDLE). Throws InvalidArgument
/// when no registered view holds it.
void *lock_mutex_for(const void *address);
/// The manual-reset event of the word at `address` (a HANDLE), opened or created on
/// first use and kept until the view is unregistered; nullptr when no registered view
/// holds `address` or the event cannot be made.
void *word_event_for(const void *address) noexcept;

} // namespace pysyncq::platform::windows
