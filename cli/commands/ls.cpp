// syncq ls [SERVER]: one line per queue in /dev/shm, or on the NATS server SERVER.
// Attaching only (never opening), so listing never registers, reaps or unlinks anything.
//
// /dev/shm is shared with every other program and user, so ls treats what it finds there
// as untrusted: it never waits for a creator, never blocks on a special file, waits for
// a queue's lock at most kInspectLockTimeout, and escapes every name it prints. Other
// programs' segments are normal, not errors: they are mentioned only with --foreign.
#include "../common.hpp"

#include <iostream>

namespace syncq {

namespace {

struct LsOptions {
  std::string server; // "": shared memory
  bool json = false;
  bool foreign = false;
  pysyncq::NatsAccess access;
};

// A segment that is not listed as a queue, and why.
struct Skipped {
  std::string name;
  std::string why;
};

// The shared-memory entries that are queues, as snapshots; the others into `skipped`
// (quiet) or `unusable` (a queue in trouble: our magic, ready, but it cannot be shown).
std::vector<pysyncq::Stats> look_at_shm(std::vector<Skipped> &skipped,
                                        std::vector<Skipped> &unusable) {
  std::vector<pysyncq::Stats> found;
  const auto inspect = pysyncq::AttachOptions::for_inspection(kInspectLockTimeout);
  for (const pysyncq::SegmentInfo &segment : pysyncq::list_segments()) {
    switch (segment.kind) {
    case pysyncq::SegmentInfo::Kind::kOther:
      skipped.push_back({segment.name, segment.detail});
      continue;
    case pysyncq::SegmentInfo::Kind::kInitialising:
      skipped.push_back({segment.name, "pysyncq magic, not initialised (a creator at work, or "
                                       "a file that only starts like a queue)"});
      continue;
    case pysyncq::SegmentInfo::Kind::kQueue:
      break;
    }
    try {
      found.push_back(pysyncq::Queue::attach(segment.name, inspect).stats());
    } catch (const pysyncq::SyscallError &error) {
      if (error.error_number() == ENOENT) {
        continue; // removed between the listing and the attach: it is gone
      }
      (error.error_number() == ETIMEDOUT ? unusable : skipped).push_back({segment.name, error.what()});
    } catch (const pysyncq::Error &error) {
      // Our magic, ready, but unusable (another layout version, corrupt): say so.
      unusable.push_back({segment.name, error.what()});
    }
  }
  return found;
}

std::vector<pysyncq::Stats> look_at_nats(const LsOptions &options,
                                         std::vector<Skipped> &unusable) {
  std::vector<pysyncq::Stats> found;
  for (const std::string &url : pysyncq::list_queues(options.server, options.access)) {
    // A NATS queue's URL carries the login as given: name it by NAME alone.
    const std::string shown = url.substr(url.rfind('/') + 1);
    try {
      found.push_back(pysyncq::Queue::attach(url, options.access).stats());
    } catch (const pysyncq::SyscallError &error) {
      if (error.error_number() != ENOENT) { // ENOENT: deleted since the listing
        unusable.push_back({shown, error.what()});
      }
    } catch (const pysyncq::Error &error) {
      unusable.push_back({shown, error.what()});
    }
  }
  return found;
}

int run_ls(const LsOptions &options) {
  std::vector<Skipped> skipped;
  std::vector<Skipped> unusable;
  const std::vector<pysyncq::Stats> found =
      options.server.empty() ? look_at_shm(skipped, unusable) : look_at_nats(options, unusable);
  // A queue in trouble is worth a line on stderr; the listing itself still succeeded.
  for (const Skipped &entry : unusable) {
    std::cerr << "syncq ls: skipping '" << escape_text(entry.name)
              << "': " << escape_text(entry.why) << '\n';
  }
  if (options.json) {
    std::string out = "[";
    for (std::size_t i = 0; i < found.size(); ++i) {
      out += (i == 0 ? "" : ", ") + stats_json(found[i], false);
    }
    write_stdout(out + "]\n");
  } else {
    using Align = Table::Align;
    Table table(
        {"NAME", "CAPACITY", "USED", "MESSAGES", "MEMBERS", "DEAD"},
        {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
    for (const pysyncq::Stats &stats : found) {
      table.add({escape_text(stats.name), std::to_string(stats.capacity_bytes),
                 std::to_string(stats.used_bytes), std::to_string(stats.queued_messages),
                 std::to_string(stats.members), std::to_string(stats.dead_members)});
    }
    write_stdout(table.render());
  }
  if (options.foreign && !skipped.empty()) {
    // On stderr, so that stdout stays the table (or the JSON) a script parses.
    std::string out = "syncq ls: " + count_of(skipped.size(), "other segment") +
                      " in /dev/shm (not pysyncq queues):\n";
    for (const Skipped &entry : skipped) {
      out += "  " + escape_text(entry.name) + ": " + escape_text(entry.why) + "\n";
    }
    std::cerr << out;
  }
  return 0;
}

} // namespace

Command add_ls(CLI::App &parent) {
  auto options = std::make_shared<LsOptions>();
  CLI::App *app = parent.add_subcommand(
      "ls", "List every queue in /dev/shm, or on a NATS server, with its usage and members");
  app->footer(wrap(
      "One line per pysyncq queue: name, capacity and used bytes, messages queued, "
      "members registered (dead ones included) and dead members not yet reaped. Queues of "
      "every owner are listed. Other shared memory segments (other programs', FIFOs, files "
      "that only start like a queue), and NATS streams that pysyncq did not make, are "
      "normal: they are skipped quietly, and --foreign names them on stderr. A queue that "
      "cannot be shown (another layout, corrupt, its lock held for more than 1 s) gets a "
      "line on stderr. Exit status 0 once the listing was made. Never registers, reaps or "
      "removes, and never waits for a creator."));
  app->add_option("SERVER", options->server,
                  "List the queues of this NATS server, nats://[USER:PASSWORD@]host[:port] (or "
                  "tls://...), instead of /dev/shm");
  app->add_flag("--json", options->json,
                "Print a JSON array of objects, one per queue (keys in docs/cli.md)");
  app->add_flag("-a,--foreign", options->foreign,
                "Also name, on stderr, each segment in /dev/shm that is not a queue, and why");
  add_nats_access(*app, options->access);
  return {app, [options] { return run_ls(*options); }};
}

} // namespace syncq
