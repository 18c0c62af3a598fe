#include "json.hpp"

#include "text.hpp"

namespace syncq {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for_each_code_point(
      text,
      [&](char32_t code_point, std::string_view bytes) {
        if (code_point == '"') {
          out += "\\\"";
        } else if (const char *escape = backslash_escape(code_point)) {
          out += escape; // the same four escapes in JSON as on a terminal
        } else if (is_terminal_control(code_point)) {
          out += hex_digits(code_point, 4, "\\u");
        } else {
          out.append(bytes);
        }
      },
      [&](unsigned char) { out += "\xEF\xBF\xBD"; }); // U+FFFD REPLACEMENT CHARACTER
  out += '"';
  return out;
}

std::string waiting_name(pysyncq::MemberStats::Waiting waiting) {
  switch (waiting) {
  case pysyncq::MemberStats::Waiting::kForMessage:
    return "message";
  case pysyncq::MemberStats::Waiting::kForSpace:
    return "space";
  case pysyncq::MemberStats::Waiting::kNo:
    break;
  }
  return "none";
}

std::string stats_json(const pysyncq::Stats &stats, bool member_list) {
  const auto number = [](std::uint64_t value) { return std::to_string(value); };
  const auto boolean = [](bool value) { return std::string(value ? "true" : "false"); };
  std::string out = "{\"name\": " + json_string(stats.name) +
                    ", \"capacity_bytes\": " + number(stats.capacity_bytes) +
                    ", \"used_bytes\": " + number(stats.used_bytes) +
                    ", \"queued_messages\": " + number(stats.queued_messages) +
                    ", \"max_members\": " + number(stats.max_members) +
                    ", \"members\": " + number(stats.members) +
                    ", \"dead_members\": " + number(stats.dead_members) +
                    ", \"reaped_total\": " + number(stats.reaped_total) +
                    ", \"lock_recoveries\": " + number(stats.lock_recoveries) +
                    ", \"segment_bytes\": " + number(stats.segment_bytes) +
                    ", \"unlinked\": " + boolean(stats.unlinked);
  if (member_list) {
    out += ", \"member_list\": [";
    bool first = true;
    for (const pysyncq::MemberStats &member : stats.member_list) {
      out += first ? "" : ", ";
      first = false;
      out += "{\"slot\": " + number(member.slot) + ", \"pid\": " + std::to_string(member.pid) +
             ", \"sender\": " + json_string(member.sender) +
             ", \"alive\": " + boolean(member.alive) +
             ", \"unread_messages\": " + number(member.unread_messages) +
             ", \"unread_bytes\": " + number(member.unread_bytes) +
             ", \"backlog_messages\": " + number(member.backlog_messages) +
             ", \"backlog_bytes\": " + number(member.backlog_bytes) +
             ", \"waiting\": " + json_string(waiting_name(member.waiting)) + ", \"waiting_ns\": " +
             number(member.waiting == pysyncq::MemberStats::Waiting::kNo
                        ? 0
                        : static_cast<std::uint64_t>(member.waiting_for.count())) +
             "}";
    }
    out += "]";
  }
  return out + "}";
}

} // namespace syncq
