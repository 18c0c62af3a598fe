// Shared-memory segments: create, open, map, unlink, list. No queue logic.
//
// Per OS (chosen by CMake): posix/shm.cpp maps segments on Linux and macOS, with what
// differs in linux/shm.cpp (posix_fallocate, /dev/shm); windows/shm.cpp maps named file
// mappings (Local\pysyncq-NAME); shm_name.cpp checks names the same way everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::platform {

/// The longest queue name: NAME_MAX (255) of a /dev/shm file less the leading '/' that
/// shm_open wants. The same on every OS, so a name that works on one works on all.
inline constexpr std::size_t kMaxQueueNameBytes = 254;

/// A mapped /dev/shm segment. Move-only; unmaps on destruction (never unlinks).
class SharedMemory {
public:
  SharedMemory() = default; // maps nothing
  /// Creates NAME exclusively (EEXIST if taken) with `mode`, reserves `bytes` of pages
  /// (posix_fallocate, so a full /dev/shm fails here and not with SIGBUS later) and maps
  /// it read-write. On failure nothing is left behind.
  static SharedMemory create(const std::string &name, std::uint64_t bytes, unsigned mode);
  /// Opens NAME read-write, never blocking (O_NONBLOCK: NAME may be a FIFO that someone
  /// else put there), and maps nothing yet. Throws NotAQueue when NAME is not a regular
  /// file. Its size may be 0 while a creator is still sizing it: see current_size().
  static SharedMemory open(const std::string &name);
  /// Removes NAME; true if it existed. Throws on errors other than ENOENT (EPERM, EACCES).
  /// Windows cannot remove the name of a live kernel object: there it only says whether
  /// NAME exists, and the name goes with the last handle (docs/design.md, "Windows").
  static bool unlink(const std::string &name);

  SharedMemory(SharedMemory &&other) noexcept;
  SharedMemory &operator=(SharedMemory &&other) noexcept;
  SharedMemory(const SharedMemory &) = delete;
  SharedMemory &operator=(const SharedMemory &) = delete;
  ~SharedMemory();

  /// The file's size now (fstat), which a creator may still be setting.
  std::uint64_t current_size() const;
  /// The user id that owns the file (fstat).
  unsigned owner_uid() const;
  /// Maps (or re-maps) the first `bytes` of the file.
  void map(std::uint64_t bytes);

  /// Maps this process's page tables for the first `bytes` of the mapping now, where the
  /// OS can (Linux: MADV_POPULATE_WRITE, then one read a page for a hypervisor that
  /// shadows them), instead of one page fault per page on first touch. Best effort and
  /// never fatal: an error (an old kernel, a file shrunk by a hostile writer: EFAULT
  /// instead of SIGBUS) leaves the pages to fault in as before.
  void prefault(std::uint64_t bytes) const noexcept;

  /// True when /dev/shm/NAME is still this segment's file (not removed, not replaced by
  /// a newer segment of the same name).
  bool name_refers_here() const noexcept;

  std::byte *data() const noexcept { return data_; }
  std::uint64_t mapped_bytes() const noexcept { return mapped_bytes_; }

private:
#ifdef _WIN32
  SharedMemory(std::string name, void *handle) noexcept;
#else
  SharedMemory(std::string name, int fd) noexcept;
#endif
  void unmap() noexcept;

  std::string name_;
#ifdef _WIN32
  void *handle_ = nullptr; // the file mapping's HANDLE (windows/shm.cpp)
#else
  int fd_ = -1;
#endif
  std::byte *data_ = nullptr;
  std::uint64_t mapped_bytes_ = 0;
};

/// One entry of /dev/shm as a listing sees it.
struct ShmEntry {
  enum class Kind {
    kRegular,    // a regular file: `prefix` holds its first bytes (fewer if it is shorter)
    kNotRegular, // a FIFO, socket, device, directory or symbolic link: never read
    kUnreadable, // a regular file this process may not open (or that vanished)
  };
  std::string name; // without '/'
  Kind kind = Kind::kUnreadable;
  std::string prefix;
  unsigned owner_uid = 0; // kRegular only
};

/// Every entry of /dev/shm with the first `prefix_bytes` of each regular file. Never
/// blocks and never follows a link: each entry is opened O_RDONLY | O_NONBLOCK |
/// O_NOFOLLOW (any user can put a FIFO there, whose plain open would wait for a writer
/// for ever) and read only after fstat says it is a regular file. Throws only when
/// /dev/shm itself cannot be read.
std::vector<ShmEntry> list_shm_entries(std::size_t prefix_bytes);

/// Validates a queue name and returns it without a leading '/' (accepted, as
/// multiprocessing.shared_memory does): 1..kMaxQueueNameBytes bytes with no '/' and no
/// NUL, not "." or "..". Throws InvalidArgument otherwise. The same on every platform.
std::string queue_name_for(std::string_view name);

/// Validates a queue name (queue_name_for) and returns the name of its segment as
/// shm_open wants it: '/' and the name on Linux. Where the OS limits names to
/// kMaxShmNameBytes (macOS), a longer name becomes its first kHashedNamePrefixBytes
/// bytes, '~' and a 64-bit hash in hex; the segment's header keeps the full name, which
/// attach compares (two names with one hash would be refused, not mixed up).
std::string shm_path_for(std::string_view name);

/// `queue` (a valid queue name) as at most kHashedNamePrefixBytes of its start, '~' and a
/// 64-bit FNV-1a hash in hex: for OSes whose segment names are shorter than queue names.
std::string hashed_segment_name(const std::string &queue);

/// macOS: PSHMNAMLEN is 31 bytes with the leading '/'.
inline constexpr std::size_t kMaxShmNameBytes = 30;
/// The prefix a hashed name keeps: 30 less '~' and 16 hex digits; "pysyncq-test-" (13)
/// fits, so the test runner's leak check still sees the tests' segments.
inline constexpr std::size_t kHashedNamePrefixBytes = kMaxShmNameBytes - 1 - 16;

} // namespace pysyncq::platform
