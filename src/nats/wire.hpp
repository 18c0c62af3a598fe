// How a message and a member look on the wire, with no NATS client calls: the header
// names, the escaping of sender and type into header values, the bytes a message takes
// in the stream (what the stream's byte limit counts), the stream sequence in a
// delivery's ack subject, and the description that names a member's process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::nats {

inline constexpr std::string_view kSenderHeader = "Pysyncq-Sender";
inline constexpr std::string_view kTypeHeader = "Pysyncq-Type"; // absent when the type is empty
inline constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id"; // JetStream's de-duplication
/// Message ids: 12 hex digits of the member, 8 of a counter. Fixed width, so every
/// message of one sender, type and body size takes the same bytes in the stream.
inline constexpr std::size_t kMsgIdBytes = 20;

/// Header values are text without CR, LF or surrounding blanks; sender and type are any
/// bytes. Bytes outside '!'..'~' and '%' itself become %XX.
std::string escape_header_value(std::string_view bytes);
/// %XX decoding: the inverse of escape_header_value, and of a URL's percent-encoding.
/// Malformed escapes are kept as they are (a foreign publisher's header).
std::string percent_decode(std::string_view text);

/// `text` cut at every `separator` (an empty text gives one empty part).
std::vector<std::string_view> split(std::string_view text, char separator);

enum class Storage { kMemory, kFile };

/// Bytes of the header block nats.c sends for these (already escaped) values.
std::uint64_t header_bytes(std::size_t sender_escaped, std::size_t type_escaped) noexcept;
/// Bytes the server charges against the stream's byte limit for one message
/// (nats-server 2.9: memory 16 + subject + headers + body; file 22 + subject + 4 +
/// headers + body + 8, a record header and a checksum).
std::uint64_t stored_bytes(Storage storage, std::size_t subject_bytes, std::uint64_t headers,
                           std::uint64_t body_bytes) noexcept;

/// What the ack subject of a JetStream delivery says:
/// "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>",
/// or the longer form with a domain and account hash before the stream.
struct DeliveryInfo {
  std::uint64_t stream_sequence = 0;
  std::uint64_t delivery_count = 0;
};
std::optional<DeliveryInfo> parse_ack_subject(std::string_view reply) noexcept;

/// A member's consumer description: who it is, so stats and reap can say which process
/// holds what, and tell whether a member on this machine has died.
struct MemberIdentity {
  int pid = 0;
  std::uint64_t start_time = 0; // as platform::ProcessIdentity
  std::string boot_id;          // /proc/sys/kernel/random/boot_id: same machine, same boot
  std::string sender;
};
std::string describe_member(const MemberIdentity &member);
std::optional<MemberIdentity> parse_member(std::string_view description);

/// The stream's description: marks it as a pysyncq queue and carries what every member
/// needs at open but the stream config cannot hold (the liveness).
std::string describe_queue(std::uint64_t liveness_ms, std::string_view token);
std::optional<std::uint64_t> parse_queue_liveness_ms(std::string_view description);

} // namespace pysyncq::nats
