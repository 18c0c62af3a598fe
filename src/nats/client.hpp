// The NATS platform layer: one connection with its JetStream context, the JetStream
// calls the queue needs (streams, consumers, publish, ack) with their failures turned
// into pysyncq errors, and the two subscriptions (deliveries, ack activity).
//
// Fork: nats.c objects belong to the process that made them (their threads do not
// survive fork, their locks may be held). Each object here remembers the fork
// generation it was made in; in any other process its destructor leaves the C object
// alone (a deliberate leak, copy-on-write pages) and makes no call into nats.c.
#pragma once

#include "nats/address.hpp"
#include "nats/inbox.hpp"
#include "nats/wire.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::nats {

/// The stream behind a queue, as created or found.
struct StreamFacts {
  std::uint64_t capacity_bytes = 0;
  std::uint32_t max_members = 0;
  Storage storage = Storage::kMemory;
  int replicas = 1;
  std::chrono::milliseconds liveness{0};
  std::uint64_t granule = 1; // every message's charge is a multiple of it (wire.hpp)
  std::uint64_t used_bytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::string leader; // server name of the stream leader ("" on a single server)
};

struct StreamSpec {
  std::string name;
  std::string subject;
  std::string description;
  std::uint64_t capacity_bytes = 0;
  std::uint32_t max_members = 0;
  Storage storage = Storage::kMemory;
  int replicas = 1;
};

struct MemberFacts {
  std::string consumer;
  std::optional<MemberIdentity> identity; // nullopt: not one of ours
  bool push_bound = false;                // its process has a live subscription
  std::uint64_t unread_messages = 0;      // not yet delivered + delivered, not acked
  std::uint64_t ack_floor = 0;            // every sequence up to here is acked
};

struct MemberSpec {
  std::string stream;
  std::string consumer;
  std::string deliver_subject;
  std::string description;
  std::chrono::milliseconds liveness{0};
};

/// What publish() did: stored, with the stream sequence the server gave the message (a
/// repeat of a retried attempt gets the first one's), or refused for lack of space.
struct Published {
  bool stored = false;
  std::uint64_t sequence = 0; // 0 when not stored
};

class Client {
public:
  /// Connects to the first reachable server of `address`, with its login and TLS. Throws
  /// SyscallError: ECONNREFUSED when no server answers, EACCES when the login is refused,
  /// EPROTO when TLS fails, the file's errno when a credentials or TLS file is unreadable.
  explicit Client(const Address &address);
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
  ~Client();

  /// True in the process that connected (not in a forked child).
  bool owned_here() const noexcept;
  std::int64_t max_payload() const noexcept;

  /// Throws SyscallError(EEXIST) when the stream exists.
  void create_stream(const StreamSpec &spec);
  /// nullopt when there is no such stream; throws NotAQueue when it is not ours.
  std::optional<StreamFacts> stream_facts(const std::string &stream) const;
  /// False when there was no such stream.
  bool delete_stream(const std::string &stream);
  /// NAME of every stream that is a pysyncq queue (kStreamPrefix + NAME, our description).
  std::vector<std::string> queue_names() const;

  /// Creates a durable push consumer that delivers what is appended from now on, and
  /// returns the first stream sequence it will deliver. Throws TooManyMembers at the
  /// stream's consumer limit, SyscallError(ENOENT) when the stream is gone.
  std::uint64_t add_member(const MemberSpec &spec);
  bool delete_member(const std::string &stream, const std::string &consumer);
  /// False when the server no longer has the member (it dropped it after the liveness).
  bool member_exists(const std::string &stream, const std::string &consumer) const;
  std::vector<MemberFacts> members(const std::string &stream) const;

  /// Publishes with a JetStream acknowledgement, with a pad header of `pad_value_bytes`
  /// (none when 0; see pad_to_granule). Not stored when the stream refused it for
  /// lack of space (error 10077, or 10054 for one larger than the limit). Retries
  /// transient failures (no leader during an election, a reconnect) with the same message
  /// id, which the stream de-duplicates, for up to `retry_for`; then throws.
  Published publish(const std::string &subject, std::string_view msg_id,
                    std::string_view sender_escaped, std::string_view type_escaped,
                    std::string_view body, std::uint64_t pad_value_bytes,
                    std::chrono::milliseconds retry_for);
  /// Acknowledges a delivery (fire and forget; buffered across a reconnect).
  void ack(const std::string &reply);

  natsConnection *connection() const noexcept { return connection_; }

private:
  natsConnection *connection_ = nullptr;
  jsCtx *jetstream_ = nullptr;
  std::uint64_t generation_ = 0;
  std::string url_;
};

/// The subscription on a member's deliver subject: decodes each delivery on the library's
/// thread into `inbox` (acking repeats of consumed messages again).
class DeliverySubscription {
public:
  DeliverySubscription(Client &client, const std::string &subject, std::shared_ptr<Inbox> inbox);
  DeliverySubscription(const DeliverySubscription &) = delete;
  DeliverySubscription &operator=(const DeliverySubscription &) = delete;
  /// Unsubscribes and waits (bounded) until the last callback has returned.
  ~DeliverySubscription();

  struct Context;

private:
  natsSubscription *subscription_ = nullptr;
  Context *context_ = nullptr; // freed by the on-complete callback
  std::uint64_t generation_ = 0;
};

/// Watches the acks of every member of a stream, for an append waiting for space: each
/// ack may have freed some. Subscribed (and flushed to the server) on construction.
class AckWatch {
public:
  AckWatch(Client &client, const std::string &stream);
  AckWatch(const AckWatch &) = delete;
  AckWatch &operator=(const AckWatch &) = delete;
  ~AckWatch();
  /// Waits up to `timeout` for acks; true if any came (all pending ones are drained).
  bool wait(std::chrono::milliseconds timeout);

private:
  natsSubscription *subscription_ = nullptr;
  std::uint64_t generation_ = 0;
};

} // namespace pysyncq::nats
