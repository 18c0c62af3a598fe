// SharedMemory on Windows: a named file mapping backed by the paging file,
// "Local\pysyncq-NAME" (this session's namespace), SEC_COMMIT so that its memory is
// charged when it is created (a full commit limit fails create(), not a later write).
//
// What differs from POSIX (docs/design.md, "Windows"):
// - A mapping is created at its full size in one call, zero-filled, so an attacher never
//   sees a size of 0; it may see a header still being written, which Segment::attach
//   already waits out (state kInitialising, then kReady).
// - CreateFileMapping opens an existing mapping of the name without failing
//   (ERROR_ALREADY_EXISTS): create() then closes it and throws EEXIST, as O_EXCL would.
// - The name dies with the last handle in any process, and cannot be removed before:
//   unlink() only says whether it exists (Segment marks the header unlinked, and attach
//   refuses a segment so marked, as if the name were gone).
// - The queue's mode is not applied: a Local\ object gets the default security of its
//   creator's session, which other sessions and users cannot open. owner_uid() is 0, the
//   value effective_user_id() gives, so the POSIX owner check is always passed here.
#include "platform/shm.hpp"

#include "platform/windows/mappings.hpp"
#include "platform/windows/win_error.hpp"

#include <windows.h>

#include <utility>

namespace pysyncq::platform {

namespace {
// Kernel object names may be MAX_PATH (260) characters; the longest derived name adds
// "/w" and an offset of at most 20 digits to the segment's name.
constexpr std::size_t kMaxObjectNameBytes = 200;
constexpr const char *kObjectPrefix = "Local\\pysyncq-";
} // namespace

std::string shm_path_for(std::string_view name) {
  std::string queue = queue_name_for(name);
  if (queue.size() + std::char_traits<char>::length(kObjectPrefix) > kMaxObjectNameBytes) {
    return kObjectPrefix + hashed_segment_name(queue);
  }
  return kObjectPrefix + queue;
}

SharedMemory::SharedMemory(std::string name, void *handle) noexcept
    : name_(std::move(name)), handle_(handle) {}

SharedMemory::SharedMemory(SharedMemory &&other) noexcept
    : name_(std::move(other.name_)), handle_(std::exchange(other.handle_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)) {}

SharedMemory &SharedMemory::operator=(SharedMemory &&other) noexcept {
  if (this != &other) {
    unmap();
    if (handle_ != nullptr) {
      ::CloseHandle(handle_);
    }
    name_ = std::move(other.name_);
    handle_ = std::exchange(other.handle_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() {
  unmap();
  if (handle_ != nullptr) {
    ::CloseHandle(handle_);
  }
}

void SharedMemory::unmap() noexcept {
  if (data_ != nullptr) {
    windows::unregister_view(data_);
    ::UnmapViewOfFile(data_);
    data_ = nullptr;
    mapped_bytes_ = 0;
  }
}

SharedMemory SharedMemory::create(const std::string &name, std::uint64_t bytes,
                                  unsigned /*mode: see the top of this file*/) {
  HANDLE handle = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_COMMIT,
                                       static_cast<DWORD>(bytes >> 32),
                                       static_cast<DWORD>(bytes & 0xFFFF'FFFFULL),
                                       widen(name).c_str());
  const DWORD error = ::GetLastError();
  if (handle == nullptr) {
    throw_windows_error("CreateFileMapping", name + ", " + std::to_string(bytes) + " bytes",
                        error);
  }
  if (error == ERROR_ALREADY_EXISTS) {
    ::CloseHandle(handle); // someone else's: as O_EXCL, refuse
    throw_windows_error("CreateFileMapping", name, ERROR_ALREADY_EXISTS);
  }
  SharedMemory segment(name, handle);
  segment.map(bytes); // on failure the destructor closes the only handle: nothing is left
  return segment;
}

SharedMemory SharedMemory::open(const std::string &name) {
  HANDLE handle = ::OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, widen(name).c_str());
  if (handle == nullptr) {
    throw_windows_error("OpenFileMapping", name, ::GetLastError());
  }
  return SharedMemory(name, handle);
}

bool SharedMemory::unlink(const std::string &name) {
  HANDLE handle = ::OpenFileMappingW(FILE_MAP_READ, FALSE, widen(name).c_str());
  if (handle == nullptr) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_FILE_NOT_FOUND) {
      return false;
    }
    throw_windows_error("OpenFileMapping", name, error);
  }
  ::CloseHandle(handle); // the name itself goes with the last handle
  return true;
}

unsigned SharedMemory::owner_uid() const { return 0; }

// Not done on Windows: a view's pages fault in when touched (PrefetchVirtualMemory would
// only read them ahead, not map them).
void SharedMemory::prefault(std::uint64_t /*bytes*/) const noexcept {}

std::uint64_t SharedMemory::current_size() const {
  // A section's size is not asked for directly without the native API: map it whole and
  // ask how large the view is (whole pages; the segment's size is a page multiple, and
  // attach only needs "at least the header's segment_bytes").
  void *view = ::MapViewOfFile(handle_, FILE_MAP_READ, 0, 0, 0);
  if (view == nullptr) {
    throw_windows_error("MapViewOfFile", name_, ::GetLastError());
  }
  MEMORY_BASIC_INFORMATION info{};
  const SIZE_T got = ::VirtualQuery(view, &info, sizeof info);
  ::UnmapViewOfFile(view);
  if (got == 0) {
    throw_windows_error("VirtualQuery", name_, ::GetLastError());
  }
  return static_cast<std::uint64_t>(info.RegionSize);
}

void SharedMemory::map(std::uint64_t bytes) {
  unmap();
  void *address = ::MapViewOfFile(handle_, FILE_MAP_ALL_ACCESS, 0, 0, static_cast<SIZE_T>(bytes));
  if (address == nullptr) {
    throw_windows_error("MapViewOfFile", name_ + ", " + std::to_string(bytes) + " bytes",
                        ::GetLastError());
  }
  try {
    windows::register_view(static_cast<std::byte *>(address), bytes, name_);
  } catch (...) {
    ::UnmapViewOfFile(address);
    throw;
  }
  data_ = static_cast<std::byte *>(address);
  mapped_bytes_ = bytes;
}

bool SharedMemory::name_refers_here() const noexcept {
  // While this handle lives, the name cannot be given to another object.
  return handle_ != nullptr;
}

std::vector<ShmEntry> list_shm_entries(std::size_t /*prefix_bytes*/) {
  throw_windows_error("list_shm_entries",
                      "Windows keeps no list of named file mappings; open queues by name",
                      ERROR_NOT_SUPPORTED);
}

} // namespace pysyncq::platform
