// What every backend shares (src/backend.hpp): the open bookkeeping and the error texts.
#include "backend.hpp"

#include "platform/system.hpp"

namespace pysyncq {

void Queue::Impl::require_not_open_here() const {
  if (is_open_here()) {
    throw InvalidArgument("queue '" + name() + "' is already open in this process as '" + sender_ +
                          "'");
  }
}

std::uint64_t Queue::Impl::default_capacity_bytes() noexcept {
  return platform::page_size();
}

std::string Queue::Impl::sender_or_pid(std::string_view sender) {
  return sender.empty() ? std::to_string(platform::current_pid()) : std::string(sender);
}

void Queue::Impl::note_opened(std::string sender) {
  sender_ = std::move(sender);
  opening_thread_ = std::this_thread::get_id();
  shared_by_threads_ = false;
  opened_pid_ = platform::current_pid();
  opened_generation_.store(platform::fork_generation(), std::memory_order_relaxed);
  // Release: publishes the fields above to is_open_here() in other threads.
  open_.store(true, std::memory_order_release);
}

void Queue::Impl::note_closed() noexcept {
  open_.store(false, std::memory_order_release);
  sender_.clear();
}

void Queue::Impl::throw_not_open() const {
  if (open_.load(std::memory_order_acquire)) {
    throw NotOpen("queue '" + name() + "' was opened by process " + std::to_string(opened_pid_) +
                  ", not by this one (" + std::to_string(platform::current_pid()) +
                  "); call open() in this process first");
  }
  throw NotOpen("queue '" + name() + "' is not open in this process; call open() first");
}

std::string Queue::Impl::sizes_text(std::uint64_t needed, std::uint64_t free_bytes,
                                    std::uint64_t capacity) {
  return "append needs " + std::to_string(needed) + " bytes; " + std::to_string(free_bytes) +
         " of " + std::to_string(capacity) + " free";
}

void Queue::Impl::throw_full(std::uint64_t needed, std::uint64_t free_now, bool waited) const {
  throw QueueFull("queue '" + name() + "' is full: " + sizes_text(needed, free_now, capacity()) +
                      (waited ? " (wait timed out)" : ""),
                  needed, free_now, capacity());
}

void Queue::Impl::throw_never_fits(std::uint64_t needed, std::uint64_t free_now,
                                   std::string_view counted) const {
  throw QueueFull("message of " + std::to_string(needed) + " bytes can never fit queue '" + name() +
                      "': its capacity is " + std::to_string(capacity()) + " bytes" +
                      std::string(counted),
                  needed, free_now, capacity());
}

} // namespace pysyncq
