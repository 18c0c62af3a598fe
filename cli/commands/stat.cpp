// syncq stat NAME: the geometry, the counters and one row per member of one queue.
// Attaches only: looking never registers, reaps or unlinks (a dead member stays listed
// as dead, with the bytes it holds back, until something reaps it).
#include "../common.hpp"

#include <cstdio>

namespace syncq {

namespace {

struct StatOptions {
  std::string name;
  bool json = false;
  pysyncq::NatsAccess access;
};

// "1.5s", "2m03s", "1h02m": how long a member has been blocked.
std::string duration_text(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  char buffer[64];
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  } else if (seconds < 3600) {
    const auto whole = static_cast<long long>(seconds);
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", whole / 60, whole % 60);
  } else {
    const auto whole = static_cast<long long>(seconds);
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
  }
  return buffer;
}

std::string human(const pysyncq::Stats &stats) {
  using Align = Table::Align;
  Table summary({"queue", escape_text(stats.name) +
                              (stats.unlinked ? "  (unlinked: its name was removed)" : "")},
                {Align::kLeft, Align::kLeft});
  summary.add({"capacity", std::to_string(stats.capacity_bytes) + " bytes (segment " +
                               std::to_string(stats.segment_bytes) + " bytes)"});
  summary.add({"used", std::to_string(stats.used_bytes) + " bytes, " +
                           count_of(stats.queued_messages, "message") + " queued"});
  summary.add({"members", std::to_string(stats.members) + " of " +
                              std::to_string(stats.max_members) + " registered, " +
                              std::to_string(stats.dead_members) + " dead (not yet reaped)"});
  summary.add({"reaped", std::to_string(stats.reaped_total) + " since creation"});
  summary.add({"lock recoveries", std::to_string(stats.lock_recoveries)});
  std::string out = summary.render();
  if (stats.member_list.empty()) {
    return out;
  }
  Table members({"SLOT", "PID", "SENDER", "STATE", "UNREAD", "UNREAD_BYTES", "BACKLOG",
                 "WAITING"},
                {Align::kRight, Align::kRight, Align::kLeft, Align::kLeft, Align::kRight,
                 Align::kRight, Align::kRight, Align::kLeft});
  for (const pysyncq::MemberStats &member : stats.member_list) {
    const std::string waiting =
        member.waiting == pysyncq::MemberStats::Waiting::kNo
            ? "-"
            : "for " + waiting_name(member.waiting) + " " + duration_text(member.waiting_for);
    members.add({std::to_string(member.slot), std::to_string(member.pid),
                 escape_text(member.sender), member.alive ? "alive" : "dead",
                 std::to_string(member.unread_messages), std::to_string(member.unread_bytes),
                 std::to_string(member.backlog_messages), waiting});
  }
  return out + "\n" + members.render();
}

int run_stat(const StatOptions &options) {
  // Looking is safe on any queue, whoever owns it: no write but the lock, a bounded wait
  // for it, and every field escaped.
  const pysyncq::Stats stats =
      attach_queue(options.name, options.access,
                   pysyncq::AttachOptions::for_inspection(kInspectLockTimeout))
          .stats();
  write_stdout(options.json ? stats_json(stats, true) + "\n" : human(stats));
  return 0;
}

} // namespace

Command add_stat(CLI::App &parent) {
  auto options = std::make_shared<StatOptions>();
  CLI::App *app = parent.add_subcommand(
      "stat", "Show one queue's geometry, counters and members (who is stuck, and on what)");
  app->footer(
      wrap("Capacity, bytes used, messages queued, member counts, and a row per member: "
           "pid, sender, alive or dead, unread messages and bytes (its lag), and how long it "
           "has been blocked, if it is. A dead member stays listed until reaped. Never "
           "registers, reaps or removes."));
  app->add_option("NAME", options->name, kQueueNameHelp)->required();
  app->add_flag("--json", options->json,
                "Print one JSON object, with a member_list array (keys in docs/cli.md)");
  add_nats_access(*app, options->access);
  return {app, [options] { return run_stat(*options); }};
}

} // namespace syncq
