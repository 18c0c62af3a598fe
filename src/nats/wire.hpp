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
/// Filler that makes a message's charge a whole number of granules (see pad_to_granule).
inline constexpr std::string_view kPadHeader = "Pysyncq-Pad";
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

// Granules. nats-server 2.9 (memstore.go and filestore.go, storeRawMsg) lets a message in
// when used + headers + body < max_bytes, but then charges it stored_bytes(), which adds
// the subject and framing (the overhead below); when that passes max_bytes it deletes
// the oldest message to make room, under interest retention too, whoever has not read
// it. So the check and the charge disagree by the overhead, and a full queue silently
// loses its oldest message instead of refusing the append (issue 14). If every charge is
// a whole number of granules G > overhead and max_bytes is a multiple of G, they agree:
// with used = nG, a message of mG, max_bytes = kG, the server's check nG + mG - overhead
// < kG holds exactly when n + m <= k, which is when the charge fits. (A check with <=
// instead of < would agree as well, since G > overhead.)

/// Bytes the server adds to headers + body when it charges a message.
std::uint64_t charge_overhead(Storage storage, std::size_t subject_bytes) noexcept;
/// The queue's granule for a requested capacity: the smallest G in (overhead,
/// 2 * (overhead + 1)] that divides it (so the capacity is kept), else overhead + 1.
std::uint64_t choose_granule(Storage storage, std::size_t subject_bytes,
                             std::uint64_t requested_capacity) noexcept;
/// The capacity the stream gets: `requested` rounded down to a multiple of `granule`,
/// but at least one granule (a max_bytes of 0 would mean no limit at all).
std::uint64_t granule_capacity(std::uint64_t requested, std::uint64_t granule) noexcept;
/// A message's charge once padded: `unpadded` (stored_bytes() without the pad header)
/// rounded up to a whole number of granules, with the pad header's value length that
/// makes it so (0: no pad header; a header line takes at least 16 bytes, so a shortfall
/// under that is padded up by another granule).
struct Padding {
  std::uint64_t charged_bytes = 0;
  std::uint64_t pad_value_bytes = 0;
};
Padding pad_to_granule(std::uint64_t unpadded, std::uint64_t granule) noexcept;

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
/// needs at open but the stream config cannot hold (the liveness, the granule).
std::string describe_queue(std::uint64_t liveness_ms, std::uint64_t granule,
                           std::string_view token);
std::optional<std::uint64_t> parse_queue_liveness_ms(std::string_view description);
/// nullopt for a queue made before granules (its charges are then padded to the granule
/// choose_granule() gives, which bounds it exactly only if its capacity is a multiple).
std::optional<std::uint64_t> parse_queue_granule(std::string_view description);

} // namespace pysyncq::nats
