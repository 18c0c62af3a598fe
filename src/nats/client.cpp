#include "nats/client.hpp"

#include "nats/fork_guard.hpp"
#include "nats/host.hpp"
#include "nats/inherited_sockets.hpp"

#include "platform/liveness.hpp"
#include "pysyncq/errors.hpp"

#include <nats/nats.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace pysyncq::nats {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A server that does not accept a connection within this is down or unreachable: a
// local or LAN server answers in milliseconds, and open() should fail while a user waits.
constexpr int kConnectTimeoutMs = 2000;
constexpr int kReconnectWaitMs = 100; // a restarted server or a new leader is found fast
// A JetStream API request (create, info, delete) may wait for a stream leader's election,
// which takes a few seconds in a cluster; longer means the cluster has no quorum.
constexpr std::int64_t kApiWaitMs = 5000;
// The wait for one publish acknowledgement; publish() retries within its window
// (kPublishRetry), so a lost acknowledgement costs at most this.
constexpr std::int64_t kPublishWaitMs = 2000;
// How long a closed delivery subscription may take to return from its last callback.
// A callback only hands a message to the inbox; this bounds a close that meets a stalled
// library thread.
constexpr auto kCallbackDrainTimeout = 2s;
// An ack watch is told only that something was acked; what it does not drain the library
// drops past these bounds (4096 acks, 4 MiB), which keeps a slow waiter's memory small.
constexpr int kAckWatchPendingMessages = 4096;
constexpr int kAckWatchPendingBytes = 4 << 20;
// Random hex digits in each connection's inbox prefix (see inbox_prefix()): 64 bits, so
// that no two connections anywhere share one, with negligible odds.
constexpr std::size_t kInboxPrefixDigits = 16;

std::string status_text(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  const char *detail = nats_GetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') {
    text += std::string(" (") + detail + ")";
  }
  return text;
}

// Failures that go away by themselves: no stream leader during an election, a server
// restarting, a connection reconnecting.
bool transient(natsStatus status, jsErrCode code) noexcept {
  switch (status) {
  case NATS_TIMEOUT:
  case NATS_NO_RESPONDERS:
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_NOT_YET_CONNECTED:
    return true;
  default:
    break;
  }
  return code == JSClusterNotAvailErr || code == JSStreamOfflineErr ||
         code == JSConsumerOfflineErr || code == JSClusterNotActiveErr;
}

// Every other failure of a NATS call, as the pysyncq error a caller can act on.
[[noreturn]] void throw_nats_error(const std::string &what, natsStatus status, jsErrCode code) {
  const std::string text = what + ": " + status_text(status) +
                           (code != 0 ? ", JetStream error " + std::to_string(code) : "");
  if (code == JSStreamNotFoundErr || code == JSConsumerNotFoundErr) {
    throw SyscallError(text, ENOENT);
  }
  if (code == JSStreamNameExistErr) {
    throw SyscallError(text, EEXIST);
  }
  if (code == JSNotEnabledErr || code == JSNotEnabledForAccountErr) {
    throw SyscallError(text + " (is nats-server started with -js?)", EPROTONOSUPPORT);
  }
  switch (status) {
  case NATS_CONNECTION_AUTH_FAILED:
  case NATS_NOT_PERMITTED:
    throw SyscallError(text, EACCES);
  case NATS_SSL_ERROR:
  case NATS_SECURE_CONNECTION_REQUIRED:
  case NATS_SECURE_CONNECTION_WANTED:
  case NATS_PROTOCOL_ERROR:
    throw SyscallError(text, EPROTO);
  case NATS_NO_SERVER:
  case NATS_CONNECTION_CLOSED:
    throw SyscallError(text, ECONNREFUSED);
  case NATS_TIMEOUT:
  case NATS_NO_RESPONDERS:
    throw SyscallError(text + " (no JetStream answer: is nats-server started with -js?)",
                       ETIMEDOUT);
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_NOT_YET_CONNECTED:
    throw SyscallError(text, ENOTCONN);
  default:
    throw Error(text);
  }
}

void check(natsStatus status, const std::string &what) {
  if (status != NATS_OK) {
    throw_nats_error(what, status, static_cast<jsErrCode>(0));
  }
}

jsOptions api_options() {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = kApiWaitMs;
  return options;
}

std::int64_t nanoseconds(std::chrono::nanoseconds duration) { return duration.count(); }

// After connecting and after each reconnect: so that forked children close their copy.
void remember_connection_socket(natsConnection *connection) {
  char *ip = nullptr;
  int port = 0;
  if (natsConnection_GetLocalIPAndPort(connection, &ip, &port) == NATS_OK) {
    remember_socket(connection, port);
  }
  std::free(ip);
}

void on_reconnected(natsConnection *connection, void * /*closure*/) {
  const CallbackGate gate;
  remember_connection_socket(connection);
}

// The inbox prefix of a new connection: "_INBOX.<random>", unique to it.
//
// nats.c names the inbox on which a connection receives every reply (each JetStream API
// answer: consumer created, deleted, stream info, publish acknowledgements) from one
// process-wide NUID generator, seeded once when the library starts. fork() copies that
// generator, so sibling processes forked from one parent that had used NATS name the same
// inbox (`_INBOX.X.*`) and number their requests alike: the server then sends each reply
// to all of them, and each takes the first reply with its request's number, which may be
// a sibling's. So a member's open() returned on a sibling's "consumer created" before the
// server had created its own consumer; a message appended in between was not for it
// (DeliverNew starts after it) and never arrived. A prefix from the kernel's generator,
// drawn per connection, keeps every reply with the request that asked for it. It stays
// under "_INBOX." so that servers whose permissions allow "_INBOX.>" still answer.
std::string inbox_prefix() { return "_INBOX." + random_hex(kInboxPrefixDigits); }

// What the user can do when connecting failed with `status`.
std::string connect_hint(natsStatus status) {
  switch (status) {
  case NATS_CONNECTION_AUTH_FAILED:
  case NATS_NOT_PERMITTED:
    return " (wrong user, password, token or credentials?)";
  case NATS_SSL_ERROR: {
    const char *detail = nats_GetLastError(nullptr);
    // OpenSSL's words for a certificate not for the name (or address) dialled.
    if (detail != nullptr && (std::strstr(detail, "hostname mismatch") != nullptr ||
                              std::strstr(detail, "IP address mismatch") != nullptr)) {
      return " (TLS failed: the server's certificate is not for the host name in the URL; "
             "name the server as its certificate does)";
    }
    return " (TLS failed: is the CA that signed the server's certificate given, and is the "
           "certificate for the host name in the URL?)";
  }
  case NATS_SECURE_CONNECTION_WANTED:
    return " (TLS was asked for, but the server does not offer it)";
  case NATS_PROTOCOL_ERROR:
    return " (the server closed the connection: does it want a client certificate?)";
  default:
    return "";
  }
}

// "host:port,host:port": the servers of `address`, for messages.
std::string server_list(const Address &address) {
  std::string list;
  for (const std::string &server : address.servers) {
    list += (list.empty() ? "" : ",") + server.substr(server.find("://") + 3);
  }
  return list;
}

// A file the options name must be readable: say so now, naming it, rather than let the
// connection fail later with a vaguer message.
void require_readable(const std::string &path, const char *what) {
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0) {
    const int error = errno;
    throw SyscallError(
        "cannot read the " + std::string(what) + " '" + path + "': " + std::strerror(error), error);
  }
}

// The host of "nats://host:port" (an IPv6 address without its brackets).
std::string host_of(const std::string &server) {
  std::string_view rest(server);
  rest.remove_prefix(rest.find("://") + 3);
  if (!rest.empty() && rest.front() == '[') {
    return std::string(rest.substr(1, rest.find(']') - 1));
  }
  return std::string(rest.substr(0, rest.rfind(':')));
}

// The login and TLS of `login` into `options` (its files checked already).
natsStatus set_login(natsOptions *options, const Login &login) {
  natsStatus status = NATS_OK;
  if (!login.user.empty()) {
    status = natsOptions_SetUserInfo(options, login.user.c_str(), login.password.c_str());
  }
  if (status == NATS_OK && !login.token.empty()) {
    status = natsOptions_SetToken(options, login.token.c_str());
  }
  if (status == NATS_OK && !login.credentials_file.empty()) {
    status =
        natsOptions_SetUserCredentialsFromFiles(options, login.credentials_file.c_str(), nullptr);
  }
  if (status == NATS_OK && login.tls) {
    status = natsOptions_SetSecure(options, true);
  }
  if (status == NATS_OK && !login.tls_ca_file.empty()) {
    status = natsOptions_LoadCATrustedCertificates(options, login.tls_ca_file.c_str());
  }
  if (status == NATS_OK && !login.tls_cert_file.empty()) {
    status = natsOptions_LoadCertificatesChain(options, login.tls_cert_file.c_str(),
                                               login.tls_key_file.c_str());
  }
  return status;
}

} // namespace

// --- Client ---

Client::Client(const Address &address)
    : generation_(platform::fork_generation()), url_(address.url) {
  guard_forks();
  const Login &login = address.login;
  require_readable(login.credentials_file, "NATS credentials file");
  require_readable(login.tls_ca_file, "TLS CA file");
  require_readable(login.tls_cert_file, "TLS certificate file");
  require_readable(login.tls_key_file, "TLS key file");
  natsOptions *options = nullptr;
  check(natsOptions_Create(&options), "nats options");
  std::vector<const char *> servers;
  for (const std::string &server : address.servers) {
    servers.push_back(server.c_str());
  }
  natsStatus status = set_login(options, login);
  // Whether nats.c checks that a TLS server's certificate is for the host dialled depends
  // on how it was built (NATS_FORCE_HOST_VERIFICATION: Debian's does) unless the expected
  // name is set. For one server we set it, so the check never depends on the build. For a
  // list one name cannot fit every server: nats.c then checks each against its own host
  // if its build forces verification (Debian's), and not at all otherwise (docs/nats.md).
  // Only when TLS is asked for (tls, tls://, a CA or a certificate): it is an option of
  // the TLS context, which a build without TLS refuses to make.
  if (status == NATS_OK && address.servers.size() == 1 && login.tls) {
    status = natsOptions_SetExpectedHostname(options, host_of(address.servers.front()).c_str());
  }
  if (status != NATS_OK) {
    natsOptions_Destroy(options);
    throw_nats_error("TLS or login options for '" + url_ + "'", status, static_cast<jsErrCode>(0));
  }
  status = natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size()));
  if (status == NATS_OK) {
    status = natsOptions_SetNoRandomize(options, true);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetTimeout(options, kConnectTimeoutMs);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetMaxReconnect(options, -1); // a member outlives server restarts
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectWait(options, kReconnectWaitMs);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetSendAsap(options, true); // latency: no batching of acks
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectedCB(options, &on_reconnected, nullptr);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetCustomInboxPrefix(options, inbox_prefix().c_str());
  }
  if (status == NATS_OK) {
    status = natsConnection_Connect(&connection_, options);
  }
  natsOptions_Destroy(options);
  if (status != NATS_OK) {
    throw_nats_error("cannot connect to NATS at " + server_list(address) + " for '" + url_ + "'" +
                         connect_hint(status),
                     status, static_cast<jsErrCode>(0));
  }
  remember_connection_socket(connection_);
  jsOptions js_options = api_options();
  status = natsConnection_JetStream(&jetstream_, connection_, &js_options);
  if (status != NATS_OK) {
    forget_socket(connection_);
    natsConnection_Destroy(connection_);
    throw_nats_error("JetStream context for '" + url_ + "'", status, static_cast<jsErrCode>(0));
  }
}

Client::~Client() {
  if (!owned_here()) {
    return; // the parent's objects: see the header
  }
  forget_socket(connection_);
  jsCtx_Destroy(jetstream_);
  natsConnection_Destroy(connection_);
}

bool Client::owned_here() const noexcept { return generation_ == platform::fork_generation(); }

std::int64_t Client::max_payload() const noexcept {
  return natsConnection_GetMaxPayload(connection_);
}

void Client::create_stream(const StreamSpec &spec) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char *subjects[] = {spec.subject.c_str()};
  config.Name = spec.name.c_str();
  config.Description = spec.description.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Retention = js_InterestPolicy; // kept until every member has acked it
  config.Discard = js_DiscardNew;       // a full stream refuses the publish
  config.MaxBytes = static_cast<std::int64_t>(spec.capacity_bytes);
  config.MaxMsgSize = spec.capacity_bytes > static_cast<std::uint64_t>(INT32_MAX)
                          ? -1
                          : static_cast<std::int32_t>(spec.capacity_bytes);
  config.MaxConsumers = spec.max_members;
  config.Storage = spec.storage == Storage::kFile ? js_FileStorage : js_MemoryStorage;
  config.Replicas = spec.replicas;
  config.Duplicates = nanoseconds(30s); // covers publish()'s retries with one message id
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_AddStream(nullptr, jetstream_, &config, &options, &code);
  if (status != NATS_OK) {
    if (code == JSStreamNameExistErr) {
      throw SyscallError("queue '" + url_ + "' already exists (stream " + spec.name + ")", EEXIST);
    }
    throw_nats_error("creating stream " + spec.name + " for '" + url_ + "'", status, code);
  }
}

std::optional<StreamFacts> Client::stream_facts(const std::string &stream) const {
  jsStreamInfo *info = nullptr;
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_GetStreamInfo(&info, jetstream_, stream.c_str(), &options, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    return std::nullopt;
  }
  if (status != NATS_OK) {
    throw_nats_error("stream " + stream + " of '" + url_ + "'", status, code);
  }
  std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo *)> owned(info, &jsStreamInfo_Destroy);
  const char *description = info->Config->Description != nullptr ? info->Config->Description : "";
  const auto liveness_ms = parse_queue_liveness_ms(description);
  if (!liveness_ms) {
    throw NotAQueue("NATS stream " + stream + " of '" + url_ +
                    "' is not a pysyncq queue (its description is '" + description + "')");
  }
  StreamFacts facts;
  facts.capacity_bytes = static_cast<std::uint64_t>(info->Config->MaxBytes);
  facts.max_members = static_cast<std::uint32_t>(info->Config->MaxConsumers);
  facts.storage = info->Config->Storage == js_FileStorage ? Storage::kFile : Storage::kMemory;
  facts.replicas = static_cast<int>(info->Config->Replicas);
  facts.liveness = std::chrono::milliseconds(*liveness_ms);
  // A queue made before granules has none in its description: pad to the granule its
  // creation would choose now (its bound is exact only if its capacity is a multiple).
  facts.granule =
      parse_queue_granule(description)
          .value_or(choose_granule(
              facts.storage,
              info->Config->SubjectsLen > 0 ? std::strlen(info->Config->Subjects[0]) : 0,
              facts.capacity_bytes));
  facts.used_bytes = info->State.Bytes;
  facts.messages = info->State.Msgs;
  facts.first_sequence = info->State.FirstSeq;
  facts.last_sequence = info->State.LastSeq;
  if (info->Cluster != nullptr && info->Cluster->Leader != nullptr) {
    facts.leader = info->Cluster->Leader;
  }
  return facts;
}

std::vector<std::string> Client::queue_names() const {
  jsStreamInfoList *list = nullptr;
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_Streams(&list, jetstream_, &options, &code);
  std::vector<std::string> names;
  if (status == NATS_NOT_FOUND) {
    return names; // no streams at all (nats.c says so when the list is empty)
  }
  if (status != NATS_OK) {
    throw_nats_error("listing the streams of '" + url_ + "'", status, code);
  }
  std::unique_ptr<jsStreamInfoList, void (*)(jsStreamInfoList *)> owned(list,
                                                                        &jsStreamInfoList_Destroy);
  for (int index = 0; index < list->Count; ++index) {
    const jsStreamConfig *config = list->List[index]->Config;
    const std::string_view name = config != nullptr && config->Name != nullptr ? config->Name : "";
    const char *description = config != nullptr ? config->Description : nullptr;
    // Ours: our name prefix and a description that parses as a queue's.
    if (name.substr(0, kStreamPrefix.size()) == kStreamPrefix && description != nullptr &&
        parse_queue_liveness_ms(description)) {
      names.emplace_back(name.substr(kStreamPrefix.size()));
    }
  }
  return names;
}

bool Client::delete_stream(const std::string &stream) {
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_DeleteStream(jetstream_, stream.c_str(), &options, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    return false;
  }
  if (status != NATS_OK) {
    throw_nats_error("deleting stream " + stream + " of '" + url_ + "'", status, code);
  }
  return true;
}

std::uint64_t Client::add_member(const MemberSpec &spec) {
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = spec.consumer.c_str();
  config.Description = spec.description.c_str();
  config.DeliverSubject = spec.deliver_subject.c_str();
  config.DeliverPolicy = js_DeliverNew; // a member reads what is appended after it opens
  config.AckPolicy = js_AckExplicit;    // acked when popped: unread messages hold space
  config.MaxAckPending = -1;            // every unread message may wait in the inbox
  config.MaxDeliver = -1;
  // A delivery not acked within the liveness is sent again (the inbox drops the copy): so
  // a delivery lost in a leader change or a server restart reaches the member in time.
  config.AckWait = nanoseconds(spec.liveness);
  // The server drops a member whose subscription has been gone this long: its process
  // died or lost the network. What it held is freed.
  config.InactiveThreshold = nanoseconds(spec.liveness);
  jsConsumerInfo *info = nullptr;
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_AddConsumer(&info, jetstream_, spec.stream.c_str(), &config, &options, &code);
  if (status != NATS_OK) {
    if (code == JSMaximumConsumersLimitErr) {
      throw TooManyMembers("queue '" + url_ +
                           "' already has as many members as its limit "
                           "(set when it was created): " +
                           status_text(status));
    }
    if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      throw SyscallError("queue '" + url_ + "' no longer exists (stream " + spec.stream + ")",
                         ENOENT);
    }
    throw_nats_error("opening queue '" + url_ + "'", status, code);
  }
  // The answer must be about the consumer asked for: open() may return only once the
  // server has made this member's own consumer (see inbox_prefix(); an answer for
  // another member's would let a message appended right after open() pass this one by).
  const bool ours = info->Name != nullptr && spec.consumer == info->Name;
  const std::uint64_t first = info->Delivered.Stream + 1;
  jsConsumerInfo_Destroy(info);
  if (!ours) {
    throw Error("opening queue '" + url_ + "': the server's answer was not about member " +
                spec.consumer + " (a reply meant for another request)");
  }
  return first;
}

bool Client::delete_member(const std::string &stream, const std::string &consumer) {
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_DeleteConsumer(jetstream_, stream.c_str(), consumer.c_str(), &options, &code);
  if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr || code == JSStreamNotFoundErr) {
    return false;
  }
  if (status != NATS_OK) {
    throw_nats_error("closing member " + consumer + " of '" + url_ + "'", status, code);
  }
  return true;
}

bool Client::member_exists(const std::string &stream, const std::string &consumer) const {
  jsConsumerInfo *info = nullptr;
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_GetConsumerInfo(&info, jetstream_, stream.c_str(), consumer.c_str(), &options, &code);
  if (status == NATS_OK) {
    jsConsumerInfo_Destroy(info);
    return true;
  }
  if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr || code == JSStreamNotFoundErr) {
    return false;
  }
  return true; // cannot tell now (a reconnect, an election): assume it is still there
}

std::vector<MemberFacts> Client::members(const std::string &stream) const {
  jsConsumerInfoList *list = nullptr;
  jsOptions options = api_options();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_Consumers(&list, jetstream_, stream.c_str(), &options, &code);
  std::vector<MemberFacts> members;
  if (status == NATS_NOT_FOUND) {
    return members; // no consumers (nats.c says so when the list is empty)
  }
  if (status != NATS_OK) {
    throw_nats_error("members of '" + url_ + "'", status, code);
  }
  for (int index = 0; index < list->Count; ++index) {
    const jsConsumerInfo *info = list->List[index];
    MemberFacts member;
    member.consumer = info->Name != nullptr ? info->Name : "";
    if (info->Config != nullptr && info->Config->Description != nullptr) {
      member.identity = parse_member(info->Config->Description);
    }
    member.push_bound = info->PushBound;
    member.unread_messages = info->NumPending + static_cast<std::uint64_t>(info->NumAckPending);
    member.ack_floor = info->AckFloor.Stream;
    members.push_back(std::move(member));
  }
  jsConsumerInfoList_Destroy(list);
  return members;
}

Published Client::publish(const std::string &subject, std::string_view msg_id,
                          std::string_view sender_escaped, std::string_view type_escaped,
                          std::string_view body, std::uint64_t pad_value_bytes,
                          std::chrono::milliseconds retry_for) {
  natsMsg *message = nullptr;
  check(natsMsg_Create(&message, subject.c_str(), nullptr, body.data(),
                       static_cast<int>(body.size())),
        "message for '" + url_ + "'");
  std::unique_ptr<natsMsg, void (*)(natsMsg *)> owned(message, &natsMsg_Destroy);
  const std::string sender(sender_escaped);
  const std::string type(type_escaped);
  const std::string id(msg_id);
  check(natsMsgHeader_Set(message, std::string(kSenderHeader).c_str(), sender.c_str()),
        "message header");
  if (!type.empty()) {
    check(natsMsgHeader_Set(message, std::string(kTypeHeader).c_str(), type.c_str()),
          "message header");
  }
  if (pad_value_bytes != 0) {
    const std::string pad(pad_value_bytes, '.');
    check(natsMsgHeader_Set(message, std::string(kPadHeader).c_str(), pad.c_str()),
          "message header");
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.c_str();
  options.MaxWait = kPublishWaitMs;
  const Clock::time_point give_up = Clock::now() + retry_for;
  for (;;) {
    jsErrCode code = static_cast<jsErrCode>(0);
    jsPubAck *ack = nullptr;
    const natsStatus status = js_PublishMsg(&ack, jetstream_, message, &options, &code);
    if (status == NATS_OK) {
      // A duplicate of a retried attempt counts: it is stored once, under its first
      // sequence, which the server's ack repeats.
      const Published stored{.stored = true, .sequence = ack != nullptr ? ack->Sequence : 0};
      if (ack != nullptr) {
        jsPubAck_Destroy(ack);
      }
      return stored;
    }
    if (ack != nullptr) {
      jsPubAck_Destroy(ack);
    }
    if (code == JSStreamStoreFailedErr || code == JSStreamMessageExceedsMaximumErr) {
      return Published{};
    }
    if (code == JSStreamNotFoundErr || code == JSStreamNotMatchErr) {
      throw SyscallError("queue '" + url_ + "' no longer exists: " + status_text(status), ENOENT);
    }
    if (!transient(status, code) || Clock::now() >= give_up) {
      throw_nats_error("appending to '" + url_ + "'", status, code);
    }
    std::this_thread::sleep_for(20ms); // an election takes seconds; do not flood it
  }
}

void Client::ack(const std::string &reply) {
  // An ack that fails here (connection closed) is re-sent by the server's redelivery.
  (void)natsConnection_Publish(connection_, reply.c_str(), nullptr, 0);
}

// --- DeliverySubscription ---

struct DeliverySubscription::Context {
  Client *client;
  std::shared_ptr<Inbox> inbox;
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
};

namespace {

std::string header_value(natsMsg *message, std::string_view key) {
  const char *value = nullptr;
  if (natsMsgHeader_Get(message, std::string(key).c_str(), &value) != NATS_OK || value == nullptr) {
    return {};
  }
  return percent_decode(value);
}

// The library's delivery thread, one message at a time, in order.
void on_delivery(natsConnection * /*connection*/, natsSubscription * /*subscription*/,
                 natsMsg *message, void *closure) {
  const CallbackGate gate;
  auto *context = static_cast<DeliverySubscription::Context *>(closure);
  std::unique_ptr<natsMsg, void (*)(natsMsg *)> owned(message, &natsMsg_Destroy);
  const char *reply = natsMsg_GetReply(message);
  const auto info = reply != nullptr ? parse_ack_subject(reply) : std::nullopt;
  if (!info) {
    return; // not a JetStream delivery (a status message we did not ask for)
  }
  Delivery delivery;
  delivery.sequence = info->stream_sequence;
  delivery.reply = reply;
  delivery.sender = header_value(message, kSenderHeader);
  delivery.type = header_value(message, kTypeHeader);
  const char *data = natsMsg_GetData(message);
  delivery.body.assign(data != nullptr ? data : "",
                       static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  if (context->inbox->add(std::move(delivery)) == Inbox::Added::kAckAgain) {
    context->client->ack(reply);
  }
}

void on_complete(void *closure) {
  const CallbackGate gate;
  auto *context = static_cast<DeliverySubscription::Context *>(closure);
  std::unique_lock lock(context->mutex);
  context->done = true;
  context->done_changed.notify_all();
}

} // namespace

DeliverySubscription::DeliverySubscription(Client &client, const std::string &subject,
                                           std::shared_ptr<Inbox> inbox)
    : context_(new Context{&client, std::move(inbox), {}, {}, false}),
      generation_(platform::fork_generation()) {
  natsStatus status = natsConnection_Subscribe(&subscription_, client.connection(), subject.c_str(),
                                               &on_delivery, context_);
  if (status == NATS_OK) {
    // Unread messages wait in the inbox, not in the library: no slow-consumer drops.
    status = natsSubscription_SetPendingLimits(subscription_, -1, -1);
  }
  if (status == NATS_OK) {
    status = natsSubscription_SetOnCompleteCB(subscription_, &on_complete, context_);
  }
  if (status == NATS_OK) {
    // The server must know the subscription before the consumer exists, so the consumer
    // is bound from its first moment and no delivery goes nowhere.
    status = natsConnection_Flush(client.connection());
  }
  if (status != NATS_OK) {
    if (subscription_ != nullptr) {
      natsSubscription_Destroy(subscription_);
    }
    // Without an on-complete callback registered, nothing else will free it. If it was
    // registered, the destroyed subscription runs it once (it frees nothing: see below).
    throw_nats_error("subscribing to deliveries", status, static_cast<jsErrCode>(0));
  }
}

DeliverySubscription::~DeliverySubscription() {
  if (generation_ != platform::fork_generation()) {
    return;
  }
  (void)natsSubscription_Unsubscribe(subscription_);
  {
    std::unique_lock lock(context_->mutex);
    context_->done_changed.wait_for(lock, kCallbackDrainTimeout, [&] { return context_->done; });
  }
  const bool done = [&] {
    std::lock_guard lock(context_->mutex);
    return context_->done;
  }();
  natsSubscription_Destroy(subscription_);
  if (done) {
    delete context_;
  } // else: a callback is still running somewhere; leaking the context is the safe side
}

// --- AckWatch ---

AckWatch::AckWatch(Client &client, const std::string &stream)
    : generation_(platform::fork_generation()) {
  const std::string subject = "$JS.ACK." + stream + ".>";
  natsStatus status =
      natsConnection_SubscribeSync(&subscription_, client.connection(), subject.c_str());
  if (status == NATS_OK) {
    // Only "something happened" matters: let the library drop what we do not drain.
    status = natsSubscription_SetPendingLimits(subscription_, kAckWatchPendingMessages,
                                               kAckWatchPendingBytes);
  }
  if (status == NATS_OK) {
    status = natsConnection_Flush(client.connection());
  }
  if (status != NATS_OK) {
    if (subscription_ != nullptr) {
      natsSubscription_Destroy(subscription_);
    }
    throw_nats_error("watching acks", status, static_cast<jsErrCode>(0));
  }
}

AckWatch::~AckWatch() {
  if (generation_ != platform::fork_generation()) {
    return;
  }
  (void)natsSubscription_Unsubscribe(subscription_);
  natsSubscription_Destroy(subscription_);
}

bool AckWatch::wait(std::chrono::milliseconds timeout) {
  natsMsg *message = nullptr;
  const natsStatus status =
      natsSubscription_NextMsg(&message, subscription_, std::max<std::int64_t>(1, timeout.count()));
  if (status != NATS_OK) {
    return false;
  }
  natsMsg_Destroy(message);
  for (;;) { // drain what else is there without waiting
    message = nullptr;
    int pending = 0;
    if (natsSubscription_GetPending(subscription_, &pending, nullptr) != NATS_OK || pending <= 0) {
      return true;
    }
    if (natsSubscription_NextMsg(&message, subscription_, 1) != NATS_OK) {
      return true;
    }
    natsMsg_Destroy(message);
  }
}

} // namespace pysyncq::nats
