// NatsQueue: the queue on NATS JetStream, for names "nats://host[:port]/NAME".
//
// One queue is one stream (interest retention, discard new, byte limit = capacity), so
// the server keeps a message until every member has acked it and refuses an append that
// does not fit. A member is a durable push consumer that delivers what is appended after
// it opened into this process's inbox; pop takes the next message from the inbox and acks
// it. The server drops a member whose subscription has been gone for the liveness. The
// contracts are ShmQueue's (src/shm/); docs/nats.md lists where they differ.
#include "backend.hpp"
#include "deadlines.hpp"
#include "nats/address.hpp"
#include "nats/client.hpp"
#include "nats/host.hpp"
#include "nats/inbox.hpp"
#include "nats/wire.hpp"
#include "platform/liveness.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>
#include <unistd.h>

namespace pysyncq {

namespace {

using namespace std::chrono_literals;
using nats::Storage;

// A publish that meets an election or a reconnect is retried for this long (with one
// message id, so the stream stores it once: its duplicate window is longer).
constexpr auto kPublishRetry = 10s;
// A blocked append re-reads the stream state after each burst of acks, then backs off
// to this (it also notices members the server dropped, which send no ack).
constexpr auto kSpaceNapMax = 100ms;
constexpr auto kSpaceNapMin = 2ms;
// A blocked append asks whether only it holds the oldest message this often.
constexpr auto kDeadlockCheckInterval = 1s;
// A blocking pop wakes at least this often to run the interrupt hook.
constexpr auto kMessageSlice = 250ms;
// A blocking pop declares its registration dropped after this many consecutive "no such
// consumer" answers, a liveness apart (see wait_for_message).
constexpr int kMissingAnswersToDrop = 2;
// Longest sender kept in a member's description (the server caps descriptions).
constexpr std::size_t kDescribedSenderBytes = 256;
// The shortest liveness a queue may have: a member must answer the server's heartbeat
// within it, and a busy machine stalls a process for tens of milliseconds.
constexpr std::chrono::milliseconds kMinLiveness{100};
// Hex digits of a member's random token (its consumer name and the prefix of its message
// ids): 48 bits, so two members of one queue collide with negligible odds.
constexpr std::size_t kMemberTokenDigits = 12;
// Hex digits of a queue's random token in its description: 64 bits tell a queue from
// another made later under the same name.
constexpr std::size_t kQueueTokenDigits = 16;
// A sequence missing from the deliveries is waited for at most this many livenesses,
// plus kGapSlack, before the inbox skips it: the server sends an unacked message again
// after one liveness (its AckWait), so two allow one lost redelivery, and the slack
// covers network and scheduling delays.
constexpr int kGapLivenesses = 2;
constexpr std::chrono::seconds kGapSlack{1};

std::string hex8(std::uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

} // namespace

class NatsQueue final : public Queue::Impl {
public:
  NatsQueue(nats::Address address, std::unique_ptr<nats::Client> client, nats::StreamFacts facts)
      : address_(std::move(address)), facts_(std::move(facts)), client_(std::move(client)) {}

  ~NatsQueue() override {
    if (is_open_here()) {
      try {
        close();
      } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw
      }
    }
    // Each wrapper leaves a forked-from parent's objects alone (nats/client.hpp).
    delivery_.reset();
    client_.reset();
  }

  // --- registration ---

  void open(std::string_view sender) override {
    std::lock_guard local(mutex_);
    require_not_open_here();
    nats::Client &client = client_here();
    std::string name = sender_or_pid(sender);
    nats::MemberIdentity identity = nats::this_process(name.substr(0, kDescribedSenderBytes));
    const std::string token = nats::random_hex(kMemberTokenDigits);
    const std::string consumer = "m" + token;
    auto inbox = std::make_shared<nats::Inbox>(kGapLivenesses * facts_.liveness + kGapSlack);
    // Subscribe first: the consumer must find its subscriber from its first delivery.
    auto delivery = std::make_unique<nats::DeliverySubscription>(
        client, "_PYSYNCQ." + address_.stream + "." + consumer, inbox);
    nats::MemberSpec spec;
    spec.stream = address_.stream;
    spec.consumer = consumer;
    spec.deliver_subject = "_PYSYNCQ." + address_.stream + "." + consumer;
    spec.description = nats::describe_member(identity);
    spec.liveness = facts_.liveness;
    inbox->start_at(client.add_member(spec));
    consumer_ = consumer;
    token_ = token;
    counter_ = 0;
    own_last_sequence_ = 0;
    sender_escaped_ = nats::escape_header_value(name);
    inbox_ = std::move(inbox);
    delivery_ = std::move(delivery);
    note_opened(std::move(name));
  }

  // Best effort on the network: a member that cannot be deleted now is dropped by the
  // server after the liveness, since its subscription is gone. Never throws for a handle
  // that is not open.
  void close() override {
    std::lock_guard local(mutex_);
    const bool was_open = is_open_here();
    nats::Client *client = nullptr;
    try {
      client = &client_here();
    } catch (const Error &) {
      if (!was_open) {
        return;
      }
    }
    if (was_open) {
      const std::string consumer = drop_registration();
      if (client != nullptr) {
        try {
          (void)client->delete_member(address_.stream, consumer);
        } catch (const Error &) { // NOLINT(bugprone-empty-catch): the server drops it later
        }
      }
    }
    if (client == nullptr) {
      return;
    }
    try {
      // The last member deletes the stream. Members of dead processes on this machine
      // do not count (the server would drop them after the liveness anyway).
      std::size_t remaining = 0;
      for (const nats::MemberFacts &member : client->members(address_.stream)) {
        if (!member.push_bound && member.identity && !nats::may_be_alive(*member.identity)) {
          (void)client->delete_member(address_.stream, member.consumer);
        } else {
          ++remaining;
        }
      }
      if (remaining == 0) {
        (void)client->delete_stream(address_.stream);
      }
    } catch (const Error &) { // NOLINT(bugprone-empty-catch): best effort, see above
    }
  }

  // --- append ---

  bool try_append(std::string_view type, std::string_view body) override {
    nats::Client *client = nullptr;
    std::string id;
    std::string sender_escaped;
    {
      std::lock_guard local(mutex_);
      require_open();
      client = client_.get();
      id = token_ + hex8(counter_++);
      sender_escaped = sender_escaped_;
    }
    const std::string type_escaped = nats::escape_header_value(type);
    const nats::Padding padding =
        padding_of(sender_escaped.size(), type_escaped.size(), body.size());
    const std::uint64_t needed = padding.charged_bytes;
    if (needed > capacity() || payload_of(needed) > max_payload(*client)) {
      return false; // wait_for_space(footprint()) says why it can never fit
    }
    const nats::Published published = client->publish(
        address_.subject, id, sender_escaped, type_escaped, body, padding.pad_value_bytes,
        kPublishRetry);
    if (published.stored) {
      std::lock_guard local(mutex_);
      own_last_sequence_ = std::max(own_last_sequence_, published.sequence);
    }
    return published.stored;
  }

  void append(std::string_view type, std::string_view body, Deadline deadline) override {
    for (;;) {
      if (try_append(type, body)) {
        return;
      }
      const std::uint64_t needed = footprint(type, body);
      if (deadline.has_passed() || !wait_for_space(needed, deadline)) {
        throw_full(needed, free_bytes(), deadline.when() != Deadline::now().when());
      }
    }
  }

  // `needed` is counted as the server counts it (footprint()); the payload that the
  // server's max_payload limits follows from it.
  bool wait_for_space(std::uint64_t needed, Deadline deadline) override {
    nats::Client *client = nullptr;
    std::shared_ptr<nats::Inbox> inbox;
    std::string consumer;
    bool shared = false;
    {
      std::lock_guard local(mutex_);
      require_open();
      client = client_.get();
      inbox = inbox_;
      consumer = consumer_;
      shared = shared_by_threads();
    }
    if (needed > capacity()) {
      throw_never_fits(needed, free_bytes(), " (counted as the NATS server counts them)");
    }
    const std::uint64_t payload = payload_of(needed);
    if (payload > max_payload(*client)) {
      throw QueueFull("message of " + std::to_string(payload) + " bytes can never be sent to '" +
                          address_.url + "': the NATS server's max_payload is " +
                          std::to_string(max_payload(*client)) + " bytes",
                      needed, free_bytes(), capacity());
    }
    std::optional<nats::AckWatch> watch;
    auto nap = std::chrono::duration_cast<std::chrono::milliseconds>(kSpaceNapMin);
    Deadline next_deadlock_check = Deadline::now();
    for (;;) {
      const nats::StreamFacts facts = current_facts(*client);
      const std::uint64_t free_now = free_of(facts);
      if (free_now >= needed) {
        return true;
      }
      // Never wait on our own unread messages: move them into the backlog (their acks
      // wake the watch below, and the next look sees the space they freed).
      if (move_to_backlog_if_holding(facts, inbox)) {
        nap = std::chrono::duration_cast<std::chrono::milliseconds>(kSpaceNapMin);
        continue;
      }
      if (!shared && next_deadlock_check.has_passed()) {
        check_deadlock(*client, *inbox, consumer, facts, needed);
        next_deadlock_check = Deadline::after(kDeadlockCheckInterval);
      }
      if (deadline.has_passed()) {
        return false;
      }
      if (!watch) {
        watch.emplace(*client, address_.stream); // then re-read: an ack may have come first
        continue;
      }
      run_interrupt_hook();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.when() -
                                                                              Clock::now() + 999us);
      if (watch->wait(std::min(nap, std::max(left, 1ms)))) {
        nap = std::chrono::duration_cast<std::chrono::milliseconds>(kSpaceNapMin);
      } else {
        nap =
            std::min(nap * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kSpaceNapMax));
      }
    }
  }

  // --- pop ---

  // No read-ahead: the messages wait in this process's inbox already, where a pop reads
  // them without a round trip.
  bool try_pop_visit(const std::function<void(const MessageView &)> &visit,
                     std::size_t /*read_ahead*/) override {
    std::lock_guard local(mutex_);
    require_open();
    for (;;) {
      const nats::Delivery *message = inbox_->next(nats::Inbox::Clock::now());
      if (message == nullptr) {
        // Read your own appends, as in shared memory: a message this handle appended is
        // in the stream and on its way here (deliveries come on the library's thread a
        // moment after the publish's ack), so a pop right after the append waits for it
        // instead of saying "empty". Bounded as a gap is; given up on after that.
        const std::uint64_t own = std::exchange(own_last_sequence_, 0);
        if (own != 0 && inbox_->holds(own) && inbox_->wait_for_arrival(own)) {
          continue;
        }
        return false;
      }
      // A backlog message (empty reply) was acked when it moved there.
      if (!screened(message->sender, message->type)) {
        visit(MessageView{message->sender, message->type, message->body}); // may throw
        ack_unless_acked(*message);
        inbox_->consume();
        return true;
      }
      ack_unless_acked(*message); // screened messages count as read
      inbox_->consume();
    }
  }

  bool wait_for_message(Deadline deadline) override {
    std::shared_ptr<nats::Inbox> inbox;
    nats::Client *client = nullptr;
    std::string consumer;
    {
      std::lock_guard local(mutex_);
      require_open();
      inbox = inbox_;
      client = client_.get();
      consumer = consumer_;
    }
    Deadline next_presence_check = Deadline::after(facts_.liveness);
    int missing_answers = 0; // consecutive "no such consumer", a liveness apart
    for (;;) {
      if (inbox->wait(Clock::now())) {
        return true;
      }
      if (deadline.has_passed()) {
        return false;
      }
      run_interrupt_hook();
      if (inbox->wait(earlier(deadline, Deadline::after(kMessageSlice)).when())) {
        return true;
      }
      {
        std::lock_guard local(mutex_);
        if (!is_open_here() || inbox_ != inbox) {
          throw NotOpen("queue '" + address_.url + "' was closed by this process during the wait");
        }
      }
      // A process cut off from the server for longer than the liveness has been dropped:
      // say so instead of waiting for messages that will never come. One "no such
      // consumer" is not proof: during a stream leader's election a server that has not
      // caught up yet answers so for a member that lives (seen under load in the
      // cluster test). A second answer a liveness later is: a live member's consumer
      // is back by then, and a dropped one never comes back.
      if (next_presence_check.has_passed()) {
        const bool exists = client->member_exists(address_.stream, consumer);
        missing_answers = exists ? 0 : missing_answers + 1;
        if (missing_answers >= kMissingAnswersToDrop) {
          std::lock_guard local(mutex_);
          if (is_open_here() && inbox_ == inbox) {
            (void)drop_registration(); // so that open() works again
          }
          throw NotOpen("the server dropped this process's registration in queue '" + address_.url +
                        "' (its connection was gone for longer than the "
                        "liveness); open() it again");
        }
        next_presence_check = Deadline::after(facts_.liveness);
      }
    }
  }

  // --- maintenance and inspection ---

  // The server drops members by liveness; this drops, at once, those that ran on this
  // machine and whose process is gone.
  std::uint32_t reap() override {
    std::lock_guard local(mutex_);
    nats::Client &client = client_here();
    std::uint32_t reaped = 0;
    for (const nats::MemberFacts &member : client.members(address_.stream)) {
      if (!member.push_bound && member.identity && !nats::may_be_alive(*member.identity) &&
          client.delete_member(address_.stream, member.consumer)) {
        ++reaped;
      }
    }
    return reaped;
  }

  Stats stats() const override {
    std::lock_guard local(mutex_);
    nats::Client &client = client_here();
    Stats stats;
    stats.name = address_.url;
    stats.capacity_bytes = capacity();
    stats.max_members = max_members();
    const auto facts = client.stream_facts(address_.stream);
    if (!facts) {
      stats.unlinked = true;
      return stats;
    }
    stats.used_bytes = facts->used_bytes;
    stats.queued_messages = facts->messages;
    const std::uint64_t average =
        facts->messages == 0 ? 0 : facts->used_bytes / facts->messages; // an estimate
    std::uint32_t slot = 0;
    for (const nats::MemberFacts &member : client.members(address_.stream)) {
      MemberStats entry;
      entry.slot = slot++;
      if (member.identity) {
        entry.pid = member.identity->pid;
        entry.sender = member.identity->sender;
      }
      entry.alive = member.push_bound && (!member.identity || nats::may_be_alive(*member.identity));
      entry.unread_messages = member.unread_messages;
      entry.unread_bytes = member.unread_messages * average;
      // Only this process knows its own backlog (another's is private to it).
      if (member.consumer == consumer_ && inbox_ && is_open_here()) {
        entry.backlog_messages = inbox_->backlog_messages();
        entry.backlog_bytes = inbox_->backlog_bytes();
        entry.unread_messages += entry.backlog_messages;
        entry.unread_bytes += entry.backlog_bytes;
      }
      stats.dead_members += entry.alive ? 0 : 1;
      stats.member_list.push_back(std::move(entry));
    }
    stats.members = static_cast<std::uint32_t>(stats.member_list.size());
    return stats;
  }

  void unlink_now() override {
    std::lock_guard local(mutex_);
    if (!client_here().delete_stream(address_.stream)) {
      throw SyscallError("queue '" + address_.url + "' does not exist", ENOENT);
    }
  }

  // --- accessors ---

  const std::string &name() const noexcept override { return address_.url; }
  std::uint64_t capacity() const noexcept override { return facts_.capacity_bytes; }
  std::uint32_t max_members() const noexcept override { return facts_.max_members; }
  std::uint64_t footprint(std::string_view type, std::string_view body) const override {
    std::string sender_escaped;
    {
      std::lock_guard local(mutex_);
      sender_escaped = sender_escaped_;
    }
    return padding_of(sender_escaped.size(), nats::escape_header_value(type).size(), body.size())
        .charged_bytes;
  }

private:
  using Clock = std::chrono::steady_clock;

  // Under mutex_: this process's connection. In a forked child the parent's connection
  // and registration are dropped unused (they are the parent's) and a new one is made.
  nats::Client &client_here() const {
    if (client_ && !client_->owned_here()) {
      delivery_.reset(); // leaves the parent's subscription alone
      inbox_.reset();
      (void)client_.release(); // NOLINT(bugprone-unused-return-value): the parent's, see above
    }
    if (!client_) {
      client_ = std::make_unique<nats::Client>(address_);
    }
    return *client_;
  }

  // Under mutex_: forgets this process's registration here (no more deliveries, waiters
  // woken); returns its consumer name, for the caller to delete on the server.
  std::string drop_registration() {
    delivery_.reset();
    inbox_->close();
    inbox_.reset();
    note_closed();
    std::string consumer = std::move(consumer_);
    consumer_.clear();
    return consumer;
  }

  // What the server charges for a message with these escaped sender and type lengths,
  // padded to whole granules so that its check and its charge agree (wire.hpp,
  // "Granules"); the pad header's length with it.
  nats::Padding padding_of(std::size_t sender_escaped, std::size_t type_escaped,
                           std::size_t body_bytes) const noexcept {
    const std::uint64_t headers = nats::header_bytes(sender_escaped, type_escaped);
    return nats::pad_to_granule(
        nats::stored_bytes(facts_.storage, address_.subject.size(), headers, body_bytes),
        facts_.granule);
  }

  // Under mutex_.
  void ack_unless_acked(const nats::Delivery &message) {
    if (!message.reply.empty()) {
      client_->ack(message.reply);
    }
  }

  // Without mutex_, from a blocked append. When this member holds the oldest message in
  // the stream, moves what its inbox has (in order) into its backlog, at most capacity()
  // charged bytes, and acks it, so the server frees that space (issue 13's guarantee).
  // Screened messages are acked and dropped, as pop drops them. True if anything moved.
  bool move_to_backlog_if_holding(const nats::StreamFacts &facts,
                                  const std::shared_ptr<nats::Inbox> &inbox) {
    std::lock_guard local(mutex_);
    if (!is_open_here() || inbox_ != inbox) {
      return false; // closed meanwhile: the next look reports it
    }
    if (facts.messages == 0 || !inbox->holds(facts.first_sequence)) {
      return false; // we hold nothing back: others must read
    }
    const nats::Inbox::Moved moved = inbox->move_to_backlog(
        nats::Inbox::Clock::now(), capacity(),
        [&](const nats::Delivery &message) {
          return padding_of(nats::escape_header_value(message.sender).size(),
                            nats::escape_header_value(message.type).size(), message.body.size())
              .charged_bytes;
        },
        [&](const nats::Delivery &message) { return screened(message.sender, message.type); });
    for (const std::string &reply : moved.acks) {
      client_->ack(reply);
    }
    return !moved.acks.empty();
  }

  // Under mutex_. A second thread that uses the handle may pop while one waits: the
  // deadlock verdict then never counts on this member not reading (shared_by_threads()).
  void require_open() const { (void)require_open_here(); }

  // The message bytes of a message that the server charges `needed` for: what its
  // max_payload limits.
  std::uint64_t payload_of(std::uint64_t needed) const noexcept {
    const std::uint64_t overhead = nats::charge_overhead(facts_.storage, address_.subject.size());
    return needed > overhead ? needed - overhead : 0;
  }

  std::uint64_t max_payload(const nats::Client &client) const noexcept {
    const std::int64_t limit = client.max_payload();
    return limit > 0 ? static_cast<std::uint64_t>(limit) : UINT64_MAX;
  }

  nats::StreamFacts current_facts(nats::Client &client) const {
    auto facts = client.stream_facts(address_.stream);
    if (!facts) {
      throw SyscallError(
          "queue '" + address_.url + "' no longer exists (its last member closed it)", ENOENT);
    }
    return *facts;
  }

  std::uint64_t free_of(const nats::StreamFacts &facts) const noexcept {
    return facts.used_bytes >= capacity() ? 0 : capacity() - facts.used_bytes;
  }

  // Free space now; 0 when it cannot be asked (for error messages only).
  std::uint64_t free_bytes() const {
    try {
      std::lock_guard local(mutex_);
      return free_of(current_facts(client_here()));
    } catch (const Error &) {
      return 0;
    }
  }

  // Waiting for space can never succeed when this member alone holds the oldest message
  // and its backlog is full (it cannot read while it waits, nor move more). Other
  // members' acks that are still in flight only make this say "no": it never fails a wait
  // that could end.
  void check_deadlock(nats::Client &client, const nats::Inbox &inbox, const std::string &consumer,
                      const nats::StreamFacts &facts, std::uint64_t needed) const {
    if (facts.messages == 0 || !inbox.holds(facts.first_sequence) || !inbox.backlog_full()) {
      return;
    }
    for (const nats::MemberFacts &member : client.members(address_.stream)) {
      if (member.consumer != consumer && member.ack_floor < facts.first_sequence) {
        return; // another member holds it too: it may read
      }
    }
    const std::uint64_t free_now = free_of(facts);
    throw Deadlock("deadlock on queue '" + address_.url +
                       "': " + sizes_text(needed, free_now, capacity()) +
                       ", and only this process (pid " + std::to_string(::getpid()) +
                       ") holds the oldest unread message, which it cannot read while it "
                       "waits, with its backlog full (" +
                       std::to_string(capacity()) + " bytes, the capacity)",
                   needed, free_now, capacity(), {::getpid()});
  }

  const nats::Address address_;
  const nats::StreamFacts facts_; // geometry, fixed at creation
  mutable std::mutex mutex_;      // serialises this handle's threads
  // Declared before delivery_: a delivery callback uses the client, so it goes last.
  mutable std::unique_ptr<nats::Client> client_;
  mutable std::shared_ptr<nats::Inbox> inbox_;
  mutable std::unique_ptr<nats::DeliverySubscription> delivery_;
  std::string consumer_;
  std::string token_;         // message ids: token_ + counter
  std::uint32_t counter_ = 0; // wraps; ids need only be unique within 30 s
  // The stream sequence of the last message this handle appended and has not yet seen
  // arrive in its inbox (0: none); see try_pop_visit.
  std::uint64_t own_last_sequence_ = 0;
  std::string sender_escaped_;
};

std::unique_ptr<Queue::Impl> create_nats_queue(std::string_view url, const CreateOptions &options) {
  nats::Address address = nats::parse_address(url, options.access);
  const std::uint64_t capacity =
      options.capacity_bytes != 0 ? options.capacity_bytes : Queue::Impl::default_capacity_bytes();
  if (capacity > static_cast<std::uint64_t>(INT64_MAX)) {
    throw InvalidArgument("capacity of " + std::to_string(capacity) + " bytes is too large");
  }
  if (options.replicas < 1 || options.replicas > 5) {
    throw InvalidArgument("replicas must be from 1 to 5 (NATS keeps at most 5 copies), not " +
                          std::to_string(options.replicas));
  }
  if (options.liveness < kMinLiveness) {
    throw InvalidArgument("liveness must be at least " + std::to_string(kMinLiveness.count()) +
                          " ms, not " + std::to_string(options.liveness.count()) + " ms");
  }
  if (options.max_members == 0) {
    throw InvalidArgument("max_members must be at least 1");
  }
  auto client = std::make_unique<nats::Client>(address);
  nats::StreamSpec spec;
  spec.name = address.stream;
  spec.subject = address.subject;
  const Storage storage = options.file_storage ? Storage::kFile : Storage::kMemory;
  // The stream's limit is a whole number of granules (wire.hpp), at most what was asked.
  const std::uint64_t granule = nats::choose_granule(storage, address.subject.size(), capacity);
  spec.description = nats::describe_queue(static_cast<std::uint64_t>(options.liveness.count()),
                                          granule, nats::random_hex(kQueueTokenDigits));
  spec.capacity_bytes = nats::granule_capacity(capacity, granule);
  spec.max_members = options.max_members;
  spec.storage = storage;
  spec.replicas = options.replicas;
  client->create_stream(spec);
  auto facts = client->stream_facts(address.stream);
  if (!facts) {
    throw SyscallError("queue '" + address.url + "' was deleted as it was created", ENOENT);
  }
  return std::make_unique<NatsQueue>(std::move(address), std::move(client), std::move(*facts));
}

std::unique_ptr<Queue::Impl> attach_nats_queue(std::string_view url, const NatsAccess &access) {
  nats::Address address = nats::parse_address(url, access);
  auto client = std::make_unique<nats::Client>(address);
  auto facts = client->stream_facts(address.stream);
  if (!facts) {
    throw SyscallError(
        "queue '" + address.url + "' does not exist (no stream " + address.stream + ")", ENOENT);
  }
  return std::make_unique<NatsQueue>(std::move(address), std::move(client), std::move(*facts));
}

std::vector<std::string> list_nats_queues(std::string_view server, const NatsAccess &access) {
  const nats::Address address = nats::parse_server_address(server, access);
  std::vector<std::string> names = nats::Client(address).queue_names();
  std::sort(names.begin(), names.end());
  // The server as given (login included, to attach with), then each NAME.
  const std::string prefix = std::string(server.substr(0, server.find_last_not_of('/') + 1)) + '/';
  for (std::string &name : names) {
    name.insert(0, prefix);
  }
  return names;
}

} // namespace pysyncq
