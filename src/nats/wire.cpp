#include "nats/wire.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace pysyncq::nats {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::string_view kMemberMark = "pysyncq-member v1";
constexpr std::string_view kQueueMark = "pysyncq-queue v1";

bool plain(unsigned char c) noexcept { return c >= '!' && c <= '~' && c != '%'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

template <class Number> std::optional<Number> number(std::string_view digits) noexcept {
  Number value{};
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return std::nullopt;
  }
  return value;
}

// "key=value" fields after a mark, separated by single spaces.
std::optional<std::string_view> field(std::string_view description, std::string_view key) {
  for (const std::string_view part : split(description, ' ')) {
    if (part.size() > key.size() && part.substr(0, key.size()) == key && part[key.size()] == '=') {
      return part.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

} // namespace

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

std::string escape_header_value(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (plain(byte)) {
      text.push_back(c);
    } else {
      text.push_back('%');
      text.push_back(kHex[byte >> 4]);
      text.push_back(kHex[byte & 15]);
    }
  }
  return text;
}

std::string percent_decode(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        bytes.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    bytes.push_back(text[i]);
  }
  return bytes;
}

std::uint64_t header_bytes(std::size_t sender_escaped, std::size_t type_escaped) noexcept {
  // "NATS/1.0\r\n", then "Key: value\r\n" per header, then "\r\n".
  const auto line = [](std::size_t key, std::size_t value) -> std::uint64_t {
    return key + 2 + value + 2;
  };
  std::uint64_t bytes = 10 + 2;
  bytes += line(kSenderHeader.size(), sender_escaped);
  if (type_escaped != 0) {
    bytes += line(kTypeHeader.size(), type_escaped);
  }
  bytes += line(kMsgIdHeader.size(), kMsgIdBytes);
  return bytes;
}

std::uint64_t stored_bytes(Storage storage, std::size_t subject_bytes, std::uint64_t headers,
                           std::uint64_t body_bytes) noexcept {
  if (storage == Storage::kMemory) {
    return 16 + subject_bytes + headers + body_bytes;
  }
  return 22 + subject_bytes + 4 + headers + body_bytes + 8;
}

std::uint64_t charge_overhead(Storage storage, std::size_t subject_bytes) noexcept {
  return stored_bytes(storage, subject_bytes, 0, 0);
}

std::uint64_t choose_granule(Storage storage, std::size_t subject_bytes,
                             std::uint64_t requested_capacity) noexcept {
  const std::uint64_t smallest = charge_overhead(storage, subject_bytes) + 1;
  for (std::uint64_t granule = smallest; granule <= 2 * smallest; ++granule) {
    if (requested_capacity % granule == 0) {
      return granule;
    }
  }
  return smallest;
}

std::uint64_t granule_capacity(std::uint64_t requested, std::uint64_t granule) noexcept {
  return std::max(granule, requested / granule * granule);
}

Padding pad_to_granule(std::uint64_t unpadded, std::uint64_t granule) noexcept {
  // "Pysyncq-Pad: " + value + "\r\n", with a value of at least one byte.
  constexpr std::uint64_t kPadLineOverhead = kPadHeader.size() + 2 + 2;
  std::uint64_t pad = (granule - unpadded % granule) % granule;
  while (pad != 0 && pad < kPadLineOverhead + 1) {
    pad += granule;
  }
  return Padding{unpadded + pad, pad == 0 ? 0 : pad - kPadLineOverhead};
}

std::optional<DeliveryInfo> parse_ack_subject(std::string_view reply) noexcept {
  const std::vector<std::string_view> tokens = split(reply, '.');
  if (tokens.size() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK") {
    return std::nullopt;
  }
  // 9 tokens: the original form; 11 or more: $JS.ACK.<domain>.<account hash>.<stream>...
  const std::size_t delivered_at = tokens.size() == 9 ? 4 : 6;
  const auto delivered = number<std::uint64_t>(tokens[delivered_at]);
  const auto sequence = number<std::uint64_t>(tokens[delivered_at + 1]);
  if (!delivered || !sequence) {
    return std::nullopt;
  }
  return DeliveryInfo{*sequence, *delivered};
}

std::string describe_member(const MemberIdentity &member) {
  return std::string(kMemberMark) + " pid=" + std::to_string(member.pid) +
         " start=" + std::to_string(member.start_time) + " boot=" + member.boot_id +
         " sender=" + escape_header_value(member.sender);
}

std::optional<MemberIdentity> parse_member(std::string_view description) {
  if (description.substr(0, kMemberMark.size()) != kMemberMark) {
    return std::nullopt;
  }
  MemberIdentity member;
  const auto pid = field(description, "pid");
  const auto start = field(description, "start");
  if (!pid || !start || !number<int>(*pid) || !number<std::uint64_t>(*start)) {
    return std::nullopt;
  }
  member.pid = *number<int>(*pid);
  member.start_time = *number<std::uint64_t>(*start);
  member.boot_id = std::string(field(description, "boot").value_or(""));
  member.sender = percent_decode(field(description, "sender").value_or(""));
  return member;
}

std::string describe_queue(std::uint64_t liveness_ms, std::uint64_t granule,
                           std::string_view token) {
  return std::string(kQueueMark) + " liveness_ms=" + std::to_string(liveness_ms) +
         " granule=" + std::to_string(granule) + " token=" + std::string(token);
}

std::optional<std::uint64_t> parse_queue_liveness_ms(std::string_view description) {
  if (description.substr(0, kQueueMark.size()) != kQueueMark) {
    return std::nullopt;
  }
  const auto liveness = field(description, "liveness_ms");
  if (!liveness) {
    return std::nullopt;
  }
  return number<std::uint64_t>(*liveness);
}

std::optional<std::uint64_t> parse_queue_granule(std::string_view description) {
  if (description.substr(0, kQueueMark.size()) != kQueueMark) {
    return std::nullopt;
  }
  const auto granule = field(description, "granule");
  if (!granule) {
    return std::nullopt;
  }
  const auto value = number<std::uint64_t>(*granule);
  return value && *value != 0 ? value : std::nullopt;
}

} // namespace pysyncq::nats
