// syncq ls: one line per queue in /dev/shm. Attaching only (never opening), so listing
// never registers, reaps or unlinks anything.
#include "../common.hpp"

#include <iostream>

namespace syncq {

namespace {

struct LsOptions {
  bool json = false;
};

int run_ls(const LsOptions &options) {
  std::vector<pysyncq::Stats> found;
  int status = 0;
  for (const std::string &name : pysyncq::list_queues()) {
    try {
      found.push_back(pysyncq::Queue::attach(name).stats());
    } catch (const pysyncq::SyscallError &error) {
      if (error.error_number() == ENOENT) {
        continue; // unlinked between the directory scan and the attach: it is gone
      }
      std::cerr << "syncq ls: skipping '" << escape_text(name) << "': " << error.what() << '\n';
      status = 1;
    } catch (const pysyncq::Error &error) {
      // Our magic but unusable (another layout version, corrupt): say so, keep listing.
      std::cerr << "syncq ls: skipping '" << escape_text(name) << "': " << error.what() << '\n';
      status = 1;
    }
  }
  if (options.json) {
    std::string out = "[";
    for (std::size_t i = 0; i < found.size(); ++i) {
      out += (i == 0 ? "" : ", ") + stats_json(found[i], false);
    }
    write_stdout(out + "]\n");
    return status;
  }
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
  return status;
}

} // namespace

Command add_ls(CLI::App &parent) {
  auto options = std::make_shared<LsOptions>();
  CLI::App *app =
      parent.add_subcommand("ls", "List every queue in /dev/shm with its usage and members");
  app->footer(wrap("One line per pysyncq queue: name, capacity and used bytes, messages queued, "
                   "members registered (dead ones included) and dead members not yet reaped. Other "
                   "shared memory segments are ignored. Never registers, reaps or removes."));
  app->add_flag("--json", options->json,
                "Print a JSON array of objects, one per queue (keys in docs/cli.md)");
  return {app, [options] { return run_ls(*options); }};
}

} // namespace syncq
