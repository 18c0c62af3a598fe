// syncq ls [SERVER]: one line per queue in /dev/shm, or on the NATS server SERVER.
// Attaching only (never opening), so listing never registers, reaps or unlinks anything.
#include "../common.hpp"

#include <iostream>

namespace syncq {

namespace {

struct LsOptions {
  std::string server; // "": shared memory
  bool json = false;
  pysyncq::NatsAccess access;
};

int run_ls(const LsOptions &options) {
  const bool nats = !options.server.empty();
  std::vector<pysyncq::Stats> found;
  int status = 0;
  for (const std::string &name :
       nats ? pysyncq::list_queues(options.server, options.access) : pysyncq::list_queues()) {
    // A NATS queue's URL carries the login as given: name it by NAME alone.
    const std::string shown = nats ? name.substr(name.rfind('/') + 1) : name;
    try {
      found.push_back(pysyncq::Queue::attach(name, options.access).stats());
    } catch (const pysyncq::SyscallError &error) {
      if (error.error_number() == ENOENT) {
        continue; // removed between the listing and the attach: it is gone
      }
      std::cerr << "syncq ls: skipping '" << escape_text(shown) << "': " << error.what() << '\n';
      status = 1;
    } catch (const pysyncq::Error &error) {
      // Our magic but unusable (another layout version, corrupt): say so, keep listing.
      std::cerr << "syncq ls: skipping '" << escape_text(shown) << "': " << error.what() << '\n';
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
  CLI::App *app = parent.add_subcommand(
      "ls", "List every queue in /dev/shm, or on a NATS server, with its usage and members");
  app->footer(wrap("One line per pysyncq queue: name, capacity and used bytes, messages queued, "
                   "members registered (dead ones included) and dead members not yet reaped. Other "
                   "shared memory segments, and NATS streams that pysyncq did not make, are "
                   "ignored. Never registers, reaps or removes."));
  app->add_option("SERVER", options->server,
                  "List the queues of this NATS server, nats://[USER:PASSWORD@]host[:port] (or "
                  "tls://...), instead of /dev/shm");
  app->add_flag("--json", options->json,
                "Print a JSON array of objects, one per queue (keys in docs/cli.md)");
  add_nats_access(*app, options->access);
  return {app, [options] { return run_ls(*options); }};
}

} // namespace syncq
