// syncq reap NAME: reap dead members now, freeing what they had not read. Members are
// also reaped whenever a process opens the queue or an append waits for space; this is
// for a queue whose live members are idle.
#include "../common.hpp"

namespace syncq {

namespace {

struct ReapOptions {
  std::string name;
  bool quiet = false;
  pysyncq::NatsAccess access;
  bool allow_foreign_owner = false;
};

int run_reap(const ReapOptions &options) {
  pysyncq::AttachOptions attach;
  attach.allow_foreign_owner = options.allow_foreign_owner;
  attach.inspect_lock_timeout = kInspectLockTimeout; // a hung lock is reported, not waited on
  pysyncq::Queue queue = attach_queue(options.name, options.access, attach); // never unlinks
  const std::uint32_t reaped = queue.reap();
  if (!options.quiet) {
    write_stdout("reaped " + count_of(reaped, "dead member") + " of queue '" +
                 escape_text(queue.name()) + "'\n");
  }
  return 0;
}

} // namespace

Command add_reap(CLI::App &parent) {
  auto options = std::make_shared<ReapOptions>();
  CLI::App *app =
      parent.add_subcommand("reap", "Reap dead members now, freeing the space they hold back");
  app->footer(wrap("Reaps the dead members of queue NAME (members whose process is gone), freeing "
                   "the space of the messages they had not read, and prints how many. Does not "
                   "register, and never unlinks the queue. Opening a queue and waiting for space "
                   "also reap."));
  app->add_option("NAME", options->name, kQueueNameHelp)->required();
  app->add_flag("-q,--quiet", options->quiet, "Print nothing on success");
  add_nats_access(*app, options->access);
  add_allow_foreign_owner(*app, options->allow_foreign_owner);
  return {app, [options] { return run_reap(*options); }};
}

} // namespace syncq
