// POSIX shared-memory segments: create, open, map, unlink. No queue logic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::platform {

/// A mapped /dev/shm segment. Move-only; unmaps on destruction (never unlinks).
class SharedMemory {
public:
  SharedMemory() = default; // maps nothing
  /// Creates NAME exclusively (EEXIST if taken) with `mode`, reserves `bytes` of pages
  /// (posix_fallocate, so a full /dev/shm fails here and not with SIGBUS later) and maps
  /// it read-write. On failure nothing is left behind.
  static SharedMemory create(const std::string &name, std::uint64_t bytes, unsigned mode);
  /// Opens NAME read-write and maps its current size (which may be 0 while a creator is
  /// still sizing it: see current_size()).
  static SharedMemory open(const std::string &name);
  /// Removes NAME; true if it existed. Throws on errors other than ENOENT.
  static bool unlink(const std::string &name);

  SharedMemory(SharedMemory &&other) noexcept;
  SharedMemory &operator=(SharedMemory &&other) noexcept;
  SharedMemory(const SharedMemory &) = delete;
  SharedMemory &operator=(const SharedMemory &) = delete;
  ~SharedMemory();

  /// The file's size now (fstat), which a creator may still be setting.
  std::uint64_t current_size() const;
  /// Maps (or re-maps) the first `bytes` of the file.
  void map(std::uint64_t bytes);

  /// True when /dev/shm/NAME is still this segment's file (not removed, not replaced by
  /// a newer segment of the same name).
  bool name_refers_here() const noexcept;

  std::byte *data() const noexcept { return data_; }
  std::uint64_t mapped_bytes() const noexcept { return mapped_bytes_; }

private:
  SharedMemory(std::string name, int fd) noexcept;
  void unmap() noexcept;


  std::string name_;
  int fd_ = -1;
  std::byte *data_ = nullptr;
  std::uint64_t mapped_bytes_ = 0;
};

/// Names of the segments in /dev/shm (without '/'), and the first bytes of one of them
/// (fewer if it is shorter; empty if it cannot be read).
std::vector<std::string> list_shm_names();
std::string read_shm_prefix(const std::string &name, std::size_t bytes);

/// Validates a queue name and returns it as shm_open wants it: one leading '/', then
/// 1..254 bytes with no '/' and no NUL. Throws InvalidArgument otherwise.
std::string shm_path_for(std::string_view name);

} // namespace pysyncq::platform
