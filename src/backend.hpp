// The backend interface under the public Queue: shared memory (src/shm/) or
// NATS JetStream (src/nats/, when built). Queue forwards every call to one of these.
// What all backends share (screening sets, wait policy, interrupt hook) lives here.
#pragma once

#include "pysyncq/queue.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
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
  virtual bool is_open_here() const noexcept = 0;
  virtual void close() = 0;
  virtual bool try_append(std::string_view type, std::string_view body) = 0;
  virtual void append(std::string_view type, std::string_view body, Deadline deadline) = 0;
  virtual bool wait_for_space(std::uint64_t needed_bytes, Deadline deadline) = 0;
  virtual bool try_pop_visit(const std::function<void(const MessageView &)> &visit) = 0;
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
  virtual const std::string &sender() const noexcept = 0;

  ScreenSet &screened_senders() noexcept { return screened_senders_; }
  ScreenSet &screened_types() noexcept { return screened_types_; }
  void set_wait_policy(WaitPolicy policy) noexcept { policy_ = policy; }
  void set_interrupt_hook(std::function<void()> hook) { interrupt_hook_ = std::move(hook); }

protected:
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
};

/// Shared-memory backend (src/shm/).
std::unique_ptr<Queue::Impl> create_shm_queue(std::string_view name, const CreateOptions &options);
std::unique_ptr<Queue::Impl> attach_shm_queue(std::string_view name,
                                              const AttachOptions &options);

#ifdef PYSYNCQ_HAVE_NATS
/// NATS JetStream backend (src/nats/), for names "nats://host[:port]/NAME" and "tls://...".
std::unique_ptr<Queue::Impl> create_nats_queue(std::string_view url, const CreateOptions &options);
std::unique_ptr<Queue::Impl> attach_nats_queue(std::string_view url, const NatsAccess &access);
std::vector<std::string> list_nats_queues(std::string_view server, const NatsAccess &access);
#endif

} // namespace pysyncq
