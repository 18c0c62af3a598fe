// JSON output of syncq (--json): string literals and the queue snapshot objects whose
// keys docs/cli.md lists.
#pragma once

#include <pysyncq/queue.hpp>

#include <string>
#include <string_view>

namespace syncq {

/// `text` as a JSON string literal (with quotes). Valid UTF-8 is kept; bytes that are
/// not valid UTF-8 become U+FFFD, since JSON strings cannot carry raw bytes. Controls
/// (C0, DEL, C1) and the bidi overrides become \uNNNN, so that a JSON line printed on a
/// terminal is as safe as escape_text()'s.
std::string json_string(std::string_view text);
/// A queue snapshot as one JSON object (docs/cli.md lists the keys); `member_list`
/// adds the per-member array that `stat` shows and `ls` leaves out.
std::string stats_json(const pysyncq::Stats &stats, bool member_list);
/// "none", "message" or "space": what a member is blocked on.
std::string waiting_name(pysyncq::MemberStats::Waiting waiting);

} // namespace syncq
