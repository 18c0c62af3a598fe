#include "nats/inherited_sockets.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <dirent.h>
#include <mutex>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pysyncq::nats {

namespace {

// One slot per live connection. The fork handler reads them without the mutex (a handler
// in the child must not take locks another thread of the parent may have held); a slot
// read half-updated can at worst name a descriptor that the port check below rejects.
struct Slot {
  std::atomic<std::uintptr_t> owner{0};
  std::atomic<int> fd{-1};
  std::atomic<int> port{0};
};
constexpr std::size_t kSlots = 256;
std::array<Slot, kSlots> slots;
std::mutex slots_mutex; // serialises remember/forget (never taken by the fork handler)

int local_port_of(int fd) noexcept {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    return -1;
  }
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in *>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6 *>(&address)->sin6_port);
  }
  return -1;
}

int find_socket(int local_port) noexcept {
  DIR *directory = ::opendir("/proc/self/fd");
  if (directory == nullptr) {
    return -1;
  }
  int found = -1;
  const int own = ::dirfd(directory);
  while (const dirent *entry = ::readdir(directory)) {
    char *end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) {
      continue;
    }
    if (local_port_of(static_cast<int>(fd)) == local_port) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(directory);
  return found;
}

// In the child, right after fork: only async-signal-safe calls (getsockname, close).
void close_inherited_sockets() noexcept {
  for (Slot &slot : slots) {
    const int fd = slot.fd.load(std::memory_order_relaxed);
    const int port = slot.port.load(std::memory_order_relaxed);
    if (fd >= 0 && port > 0 && local_port_of(fd) == port) {
      ::close(fd); // the parent's connection object is never used here (nats/client.hpp)
    }
    slot.fd.store(-1, std::memory_order_relaxed);
    slot.owner.store(0, std::memory_order_relaxed);
  }
}

[[maybe_unused]] const bool atfork_registered = [] {
  return ::pthread_atfork(nullptr, nullptr, &close_inherited_sockets) == 0;
}();

} // namespace

void remember_socket(const void *connection, int local_port) noexcept {
  const int fd = find_socket(local_port);
  if (fd < 0) {
    return;
  }
  std::lock_guard lock(slots_mutex);
  const auto owner = reinterpret_cast<std::uintptr_t>(connection);
  Slot *free_slot = nullptr;
  for (Slot &slot : slots) {
    const std::uintptr_t current = slot.owner.load(std::memory_order_relaxed);
    if (current == owner) {
      free_slot = &slot; // a reconnect: replace
      break;
    }
    if (current == 0 && free_slot == nullptr) {
      free_slot = &slot;
    }
  }
  if (free_slot == nullptr) {
    return; // more connections than slots: those children keep the copy (documented)
  }
  free_slot->fd.store(-1, std::memory_order_relaxed);
  free_slot->port.store(local_port, std::memory_order_relaxed);
  free_slot->fd.store(fd, std::memory_order_relaxed);
  free_slot->owner.store(owner, std::memory_order_relaxed);
}

void forget_socket(const void *connection) noexcept {
  std::lock_guard lock(slots_mutex);
  const auto owner = reinterpret_cast<std::uintptr_t>(connection);
  for (Slot &slot : slots) {
    if (slot.owner.load(std::memory_order_relaxed) == owner) {
      slot.fd.store(-1, std::memory_order_relaxed);
      slot.owner.store(0, std::memory_order_relaxed);
    }
  }
}

} // namespace pysyncq::nats
