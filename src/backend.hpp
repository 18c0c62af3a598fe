// The backend interface under the public Queue: shared memory (src/shm/) or
// NATS JetStream (src/nats/, when built). Queue forwards every call to one of these.
// What all backends share lives here, once: screening sets, wait policy, interrupt hook,
// whether the handle is open in this process (and by which thread and fork generation),
// its sender, and the texts of the errors every backend throws. Only what differs is
// virtual.
#pragma once

#include "platform/liveness.hpp"
#include "pysyncq/queue.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pysyncq {

class Queue::Impl {
public:
  Impl() = default;
  Impl(const Impl &) = delete;
  Impl &operator=(const Impl &) = delete;
  virtual ~Impl() = default;

  // Same contracts as the Queue methods of the same names (include/pysyncq/queue.hpp).
  virtual void open(std::string_view sender) = 0;
  virtual void close() = 0;
  virtual bool try_append(std::string_view type, std::string_view body) = 0;
  virtual void append(std::string_view type, std::string_view body, Deadline deadline) = 0;
  virtual bool wait_for_space(std::uint64_t needed_bytes, Deadline deadline) = 0;
  // `read_ahead` as Queue::try_pop_visit's: a hint, which a backend may ignore.
  virtual bool try_pop_visit(const std::function<void(const MessageView &)> &visit,
                             std::size_t read_ahead) = 0;
  // Batches (Queue::try_append_many, append_many, pop_many_visit without waiting). The
  // defaults (src/batch.cpp) go message by message: a backend with a cheaper batch (one
  // lock round, one wake) overrides them.
  virtual bool try_append_many(std::span<const OutgoingMessage> messages);
  virtual void append_many(std::span<const OutgoingMessage> messages, Deadline deadline);
  virtual std::size_t try_pop_many_visit(std::size_t max_messages,
                                         const std::function<void(const MessageView &)> &visit);
  virtual bool wait_for_message(Deadline deadline) = 0;
  virtual std::uint32_t reap() = 0;
  virtual Stats stats() const = 0;
  /// Removes the queue's name now (syncq rm), whoever is registered.
  virtual void unlink_now() = 0;
  /// The same without the queue's lock (syncq rm --force on a hung or hostile lock);
  /// backends without such a lock just remove the name.
  virtual void unlink_now_without_lock() { unlink_now(); }
  virtual const std::string &name() const noexcept = 0;
  virtual std::uint64_t capacity() const noexcept = 0;
  virtual std::uint32_t max_members() const noexcept = 0;
  /// The capacity of a queue created without one: one page of this machine, as the
  /// original pysyncq's default (its guide's examples assume it).
  static std::uint64_t default_capacity_bytes() noexcept;
  /// Bytes that the message takes in this queue, counted as this backend counts them,
  /// when this handle appends it (with its sender). Never throws.
  virtual std::uint64_t footprint(std::string_view type, std::string_view body) const = 0;

  /// Whether open() was called in this process (not in a parent before a fork) and no
  /// close() since. Any thread, no lock.
  bool is_open_here() const noexcept {
    // Acquire: pairs with the release in note_opened(), so a thread that sees the handle
    // open also sees the bookkeeping before it (the sender, the opening thread).
    return open_.load(std::memory_order_acquire) &&
           // Relaxed: written before the release of open_ above.
           opened_generation_.load(std::memory_order_relaxed) == platform::fork_generation();
  }
  /// The sender name given at open(), empty when not open here.
  const std::string &sender() const noexcept {
    static const std::string none;
    return is_open_here() ? sender_ : none;
  }

  ScreenSet &screened_senders() noexcept { return screened_senders_; }
  ScreenSet &screened_types() noexcept { return screened_types_; }
  void set_wait_policy(WaitPolicy policy) noexcept { policy_ = policy; }
  void set_interrupt_hook(std::function<void()> hook) { interrupt_hook_ = std::move(hook); }

protected:
  // --- open bookkeeping; each call under the backend's handle mutex ---

  /// Throws InvalidArgument when open already here (a second open() of the same handle).
  void require_not_open_here() const;
  /// The sender name a member gets: `sender`, or this process's pid when it is empty.
  static std::string sender_or_pid(std::string_view sender);
  /// Records an open(): this process and fork generation, the calling thread, the sender.
  void note_opened(std::string sender);
  /// Records a close() (or a registration dropped): not open, no sender.
  void note_closed() noexcept;
  /// Throws NotOpen unless open here, saying whether it was opened in another process
  /// (a parent before fork()). Then notes the calling thread; returns true exactly once,
  /// when this call is the first by a thread other than the opening one.
  bool require_open_here() const {
    if (!is_open_here()) {
      throw_not_open();
    }
    if (!shared_by_threads_ && std::this_thread::get_id() != opening_thread_) {
      shared_by_threads_ = true;
      return true;
    }
    return false;
  }
  /// The sender given at open(), without checking that it is open here (for the hot
  /// path, after require_open_here()).
  const std::string &sender_here() const noexcept { return sender_; }
  /// Whether a second thread has used this registration (it may pop while another waits,
  /// so no deadlock verdict may count on this member never reading).
  bool shared_by_threads() const noexcept { return shared_by_threads_; }
  [[noreturn]] void throw_not_open() const;

  // --- error texts, the same for every backend ---

  /// "append needs N bytes; F of C free".
  static std::string sizes_text(std::uint64_t needed, std::uint64_t free_bytes,
                                std::uint64_t capacity);
  /// QueueFull: the queue is full now (`waited`: after waiting until the deadline).
  [[noreturn]] void throw_full(std::uint64_t needed, std::uint64_t free_now, bool waited) const;
  /// QueueFull: a message of `needed` bytes is larger than the capacity; `counted` says
  /// how it was counted when that is not obvious (empty, or " (...)").
  [[noreturn]] void throw_never_fits(std::uint64_t needed, std::uint64_t free_now,
                                     std::string_view counted = {}) const;

  bool screened(std::string_view sender, std::string_view type) const {
    return (!screened_senders_.empty() && screened_senders_.count(sender) != 0) ||
           (!screened_types_.empty() && screened_types_.count(type) != 0);
  }
  // Not in the notifier's helper thread: a binding's hook may take a lock (the GIL)
  // that the thread waiting for the helper holds.
  void run_interrupt_hook() const {
    if (interrupt_hook_ && !in_notifier_thread()) {
      interrupt_hook_();
    }
  }
  static bool in_notifier_thread() noexcept;

  ScreenSet screened_senders_;
  ScreenSet screened_types_;
  WaitPolicy policy_;
  std::function<void()> interrupt_hook_;

private:
  std::string sender_;
  std::atomic<bool> open_{false};
  std::atomic<std::uint64_t> opened_generation_{0};
  int opened_pid_ = 0;
  std::thread::id opening_thread_;
  mutable bool shared_by_threads_ = false; // under the handle mutex
};

/// Shared-memory backend (src/shm/).
std::unique_ptr<Queue::Impl> create_shm_queue(std::string_view name, const CreateOptions &options);
std::unique_ptr<Queue::Impl> attach_shm_queue(std::string_view name, const AttachOptions &options);

#ifdef PYSYNCQ_HAVE_NATS
/// NATS JetStream backend (src/nats/), for names "nats://host[:port]/NAME" and "tls://...".
std::unique_ptr<Queue::Impl> create_nats_queue(std::string_view url, const CreateOptions &options);
std::unique_ptr<Queue::Impl> attach_nats_queue(std::string_view url, const NatsAccess &access);
std::vector<std::string> list_nats_queues(std::string_view server, const NatsAccess &access);
#endif

} // namespace pysyncq
