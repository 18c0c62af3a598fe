// Queue: the public face. Picks a backend by the queue name and forwards every call.
#include "pysyncq/queue.hpp"

#include "backend.hpp"
#include "core/record.hpp"
#include "notifier.hpp"

namespace pysyncq {

namespace {
// "nats://..." or "tls://...": names that shared memory cannot have (they hold '/').
[[maybe_unused]] bool is_nats_url(std::string_view name) noexcept {
  return name.substr(0, 7) == "nats://" || name.substr(0, 6) == "tls://";
}

// Not the name itself: a NATS URL may carry a password.
[[noreturn, maybe_unused]] void no_nats(std::string_view name) {
  throw InvalidArgument("'" + std::string(name.substr(0, name.find("://") + 3)) +
                        "...' names a NATS server, but this build of pysyncq has no NATS "
                        "support (libnats-dev was not found when it was built)");
}
} // namespace

// --- Queue: the public face, forwarding to Impl ---

Queue::Queue(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

// Drops the notifier. One inherited through fork() is leaked on purpose, fd closed:
// its thread and the state of its mutex and condition variable stayed in the parent.
void Queue::drop_notifier() noexcept {
  if (notifier_ && notifier_->inherited()) {
    notifier_->abandon();
    (void)notifier_.release(); // NOLINT(bugprone-unused-return-value): deliberate leak
  }
  notifier_.reset();
}

// The backend, or NotOpen for a moved-from handle (which may only be destroyed or
// assigned to; its noexcept accessors must not be called).
Queue::Impl &Queue::live() const {
  if (!impl_) {
    throw NotOpen("this pysyncq::Queue was moved from");
  }
  return *impl_;
}

Notifier &Queue::notifier() {
  if (notifier_ && notifier_->inherited()) {
    drop_notifier();
  }
  if (!notifier_) {
    notifier_ = std::make_unique<Notifier>(live());
  }
  return *notifier_;
}
int Queue::notify_fd() { return notifier().fd(); }
void Queue::arm_for_message() { notifier().arm_for_message(); }
void Queue::arm_for_space(std::uint64_t needed_bytes) { notifier().arm_for_space(needed_bytes); }
void Queue::disarm() {
  if (notifier_ && !notifier_->inherited()) {
    notifier_->disarm();
  }
}
Queue::Queue(Queue &&) noexcept = default;
Queue &Queue::operator=(Queue &&other) noexcept {
  if (this != &other) {
    drop_notifier(); // its thread uses impl_: stop it before impl_ goes
    impl_ = std::move(other.impl_);
    notifier_ = std::move(other.notifier_);
  }
  return *this;
}
Queue::~Queue() { drop_notifier(); }

Queue Queue::create(std::string_view name, const CreateOptions &options) {
  if (is_nats_url(name)) {
#ifdef PYSYNCQ_HAVE_NATS
    return Queue(create_nats_queue(name, options));
#else
    no_nats(name);
#endif
  }
  return Queue(create_shm_queue(name, options));
}
Queue Queue::attach(std::string_view name, const NatsAccess &access) {
  return attach(name, AttachOptions{}, access);
}
Queue Queue::attach(std::string_view name, const AttachOptions &options,
                    [[maybe_unused]] const NatsAccess &access) {
  if (is_nats_url(name)) {
#ifdef PYSYNCQ_HAVE_NATS
    return Queue(attach_nats_queue(name, access));
#else
    no_nats(name);
#endif
  }
  return Queue(attach_shm_queue(name, options));
}
void Queue::unlink(std::string_view name, const NatsAccess &access) {
  Queue queue = attach(name, access); // refuses what is not a queue
  queue.remove_name();
}
void Queue::remove_name(bool take_lock) {
  if (take_lock) {
    live().unlink_now();
  } else {
    live().unlink_now_without_lock();
  }
}

std::vector<std::string> list_queues(std::string_view server,
                                     [[maybe_unused]] const NatsAccess &access) {
  if (!is_nats_url(server)) {
    throw InvalidArgument("'" + std::string(server) +
                          "' is not a NATS server (nats://host[:port] or tls://host[:port]); "
                          "list_queues() without an argument lists shared memory");
  }
#ifdef PYSYNCQ_HAVE_NATS
  return list_nats_queues(server, access);
#else
  no_nats(server);
#endif
}

void Queue::open(std::string_view sender) { live().open(sender); }
bool Queue::is_open() const noexcept { return impl_ && impl_->is_open_here(); }
void Queue::close() {
  if (impl_) { // closing a moved-from handle is as harmless as closing twice
    impl_->close();
  }
}

void Queue::append(std::string_view type, std::string_view body, Deadline deadline) {
  live().append(type, body, deadline);
}
bool Queue::try_append(std::string_view type, std::string_view body) {
  return live().try_append(type, body);
}

bool Queue::pop_into(Message &out, Deadline deadline, std::size_t read_ahead) {
  const auto copy_out = [&](const MessageView &view) {
    out.sender.assign(view.sender);
    out.type.assign(view.type);
    out.body.assign(view.body);
  };
  for (;;) {
    if (live().try_pop_visit(copy_out, read_ahead)) {
      return true;
    }
    if (deadline.has_passed() || !live().wait_for_message(deadline)) {
      return false;
    }
  }
}
std::optional<Message> Queue::pop(Deadline deadline) {
  Message message;
  if (pop_into(message, deadline)) {
    return message;
  }
  return std::nullopt;
}
bool Queue::try_pop_visit(const std::function<void(const MessageView &)> &visit,
                          std::size_t read_ahead) {
  return live().try_pop_visit(visit, read_ahead);
}

bool Queue::wait_for_message(Deadline deadline) { return live().wait_for_message(deadline); }
bool Queue::wait_for_space(std::uint64_t needed_bytes, Deadline deadline) {
  return live().wait_for_space(needed_bytes, deadline);
}
std::uint64_t Queue::footprint(std::string_view type, std::string_view body) const {
  return live().footprint(type, body);
}
std::uint64_t Queue::footprint(std::size_t sender_bytes, std::size_t type_bytes,
                               std::size_t body_bytes) noexcept {
  return core::record_bytes(sender_bytes, type_bytes, body_bytes);
}

ScreenSet &Queue::screened_senders() noexcept { return impl_->screened_senders(); }
ScreenSet &Queue::screened_types() noexcept { return impl_->screened_types(); }
void Queue::set_wait_policy(WaitPolicy policy) noexcept { impl_->set_wait_policy(policy); }
void Queue::set_interrupt_hook(std::function<void()> hook) {
  live().set_interrupt_hook(std::move(hook));
}
std::uint32_t Queue::reap() { return live().reap(); }
Stats Queue::stats() const { return live().stats(); }
const std::string &Queue::name() const noexcept { return impl_->name(); }
std::uint64_t Queue::capacity_bytes() const noexcept { return impl_->capacity(); }
std::uint32_t Queue::max_members() const noexcept { return impl_->max_members(); }
const std::string &Queue::sender() const noexcept { return impl_->sender(); }

} // namespace pysyncq
