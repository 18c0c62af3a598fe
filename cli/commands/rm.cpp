// syncq rm NAME...: unlink queues. Refuses a queue with live members unless --force:
// they would go on using a segment that nobody new can find, so their messages would no
// longer reach new members.
#include "../common.hpp"

#include <iostream>

namespace syncq {

namespace {

struct RmOptions {
  std::vector<std::string> names;
  bool force = false;
  pysyncq::NatsAccess access;
  bool allow_foreign_owner = false;
};

void remove_one(const std::string &name, const RmOptions &options) {
  pysyncq::AttachOptions attach;
  attach.allow_foreign_owner = options.allow_foreign_owner;
  attach.inspect_lock_timeout = kInspectLockTimeout;
  // Refuses what is not a queue (attach takes no lock: a hung lock cannot stop it).
  pysyncq::Queue queue = attach_queue(name, options.access, attach);
  if (options.force) {
    // Without the lock and without looking at the members: --force is also the way out
    // of a lock that a hung or hostile process holds for ever.
    queue.remove_name(/*take_lock=*/false);
    return;
  }
  const std::vector<int> live = live_member_pids(queue.stats());
  if (!live.empty()) {
    std::string pids;
    for (const int pid : live) {
      pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
    }
    throw Failure("queue '" + queue.name() + "' has " + count_of(live.size(), "live member") +
                  " (pid " + pids + "); not removed (--force removes it anyway)");
  }
  queue.remove_name();
}

int run_rm(const RmOptions &options) {
  int status = 0;
  for (const std::string &name : options.names) {
    try {
      remove_one(name, options);
    } catch (const std::exception &error) {
      // Like rm(1): report, go on with the other names, fail at the end. Escaped: the
      // message quotes a name that another user may have chosen.
      std::cerr << "syncq: " << escape_text(error.what()) << '\n';
      status = 1;
    }
  }
  return status;
}

} // namespace

Command add_rm(CLI::App &parent) {
  auto options = std::make_shared<RmOptions>();
  CLI::App *app = parent.add_subcommand(
      "rm", "Unlink queues (refuses while live members are registered, unless --force)");
  app->footer(
      wrap("Removes the names from /dev/shm (a NATS queue: deletes its stream, and its members "
           "lose it at once). Refuses a queue while live processes are "
           "registered, unless --force; dead members do not count. Processes still "
           "attached go on using the removed segment; its memory is freed when the last one "
           "unmaps it. Segments that are not pysyncq queues are refused. With several "
           "names, each is tried and the exit status is 1 if any failed."));
  app->add_option("NAME", options->names, kQueueNameHelp)->required();
  app->add_flag("-f,--force", options->force,
                "Remove even while live members are registered, without taking the queue's "
                "lock (so also when a hung or hostile process holds it)");
  add_nats_access(*app, options->access);
  add_allow_foreign_owner(*app, options->allow_foreign_owner);
  return {app, [options] { return run_rm(*options); }};
}

} // namespace syncq
