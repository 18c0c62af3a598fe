// See mappings.hpp. One process-wide table, guarded by a mutex: looked up once per lock
// and per wait or wake, never on a path that Linux keeps free of system calls (Windows
// locks with a kernel mutex anyway).
#include "platform/windows/mappings.hpp"

#include "platform/windows/win_error.hpp"
#include "pysyncq/errors.hpp"

#include <windows.h>

#include <map>
#include <mutex>

namespace pysyncq::platform::windows {

namespace {

struct View {
  std::uint64_t bytes = 0;
  std::string object_name;
  HANDLE lock = nullptr;
  std::map<std::uint64_t, HANDLE> word_events; // by the word's offset in the segment
};

std::mutex table_mutex;
std::map<const std::byte *, View> &table() {
  static auto *views = new std::map<const std::byte *, View>; // never destroyed: used at exit
  return *views;
}

// The view holding `address`; nullptr if none. Call holding table_mutex.
std::pair<const std::byte *const, View> *find(const void *address) {
  const auto *byte = static_cast<const std::byte *>(address);
  auto &views = table();
  auto after = views.upper_bound(byte);
  if (after == views.begin()) {
    return nullptr;
  }
  --after;
  if (byte >= after->first + after->second.bytes) {
    return nullptr;
  }
  return &*after;
}

} // namespace

void register_view(std::byte *base, std::uint64_t bytes, const std::string &object_name) {
  const std::string lock_name = object_name + "/lock";
  // Opens the mutex when it exists; initially not owned either way.
  HANDLE lock = ::CreateMutexW(nullptr, FALSE, widen(lock_name).c_str());
  if (lock == nullptr) {
    throw_windows_error("CreateMutex", lock_name, ::GetLastError());
  }
  const std::lock_guard guard(table_mutex);
  table()[base] = View{bytes, object_name, lock, {}};
}

void unregister_view(const std::byte *base) noexcept {
  const std::lock_guard guard(table_mutex);
  auto found = table().find(base);
  if (found == table().end()) {
    return;
  }
  ::CloseHandle(found->second.lock);
  for (auto &[offset, event] : found->second.word_events) {
    ::CloseHandle(event);
  }
  table().erase(found);
}

void *lock_mutex_for(const void *address) {
  const std::lock_guard guard(table_mutex);
  auto *view = find(address);
  if (view == nullptr) {
    throw InvalidArgument("no mapped queue segment holds this lock line");
  }
  return view->second.lock;
}

void *word_event_for(const void *address) noexcept {
  const std::lock_guard guard(table_mutex);
  auto *view = find(address);
  if (view == nullptr) {
    return nullptr;
  }
  const auto offset =
      static_cast<std::uint64_t>(static_cast<const std::byte *>(address) - view->first);
  auto &events = view->second.word_events;
  if (auto known = events.find(offset); known != events.end()) {
    return known->second;
  }
  const std::string event_name = view->second.object_name + "/w" + std::to_string(offset);
  // Manual reset, not signalled: futex.cpp says why.
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, widen(event_name).c_str());
  if (event == nullptr) {
    return nullptr;
  }
  events[offset] = event;
  return event;
}

} // namespace pysyncq::platform::windows
