// Helpers shared by the syncq subcommands: how a subcommand is wired and how queues are
// attached with messages a user can act on. Text (text.hpp), JSON (json.hpp), Ctrl-C
// (signals.hpp) and argument values (args.hpp) have files of their own; this header
// brings them all. Each subcommand lives in commands/<verb>.cpp.
#pragma once

#include "args.hpp"
#include "json.hpp"
#include "signals.hpp"
#include "text.hpp"

#include <pysyncq/queue.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace syncq {

/// A subcommand: its CLI11 node and what runs once the command line parsed.
/// `run` returns the exit status (0 ok, 1 runtime failure) or throws.
struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run;
};

Command add_ls(CLI::App &parent);
Command add_stat(CLI::App &parent);
Command add_tail(CLI::App &parent);
Command add_send(CLI::App &parent);
Command add_reap(CLI::App &parent);
Command add_rm(CLI::App &parent);
Command add_create(CLI::App &parent);

/// A failure to report as "syncq: <what>" with exit status 1.
class Failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown when stdout is a pipe whose reader went away: the command stops quietly
/// (after closing any registration) and exits 0.
class BrokenPipe : public std::runtime_error {
public:
  BrokenPipe() : std::runtime_error("broken pipe") {}
};

/// Attaches to queue `name`, turning the core's errno-level errors into sentences:
/// "queue 'x' does not exist". NotAQueue / LayoutMismatch and every error about a NATS
/// name pass through (their text is already specific, and shows no password); main
/// escapes every message before printing it.
pysyncq::Queue attach_queue(const std::string &name, const pysyncq::NatsAccess &access,
                            const pysyncq::AttachOptions &options = {});

/// How long ls, stat, reap and rm wait for a queue's lock before they report who holds
/// it: a hung or hostile process may hold it for ever.
inline constexpr std::chrono::milliseconds kInspectLockTimeout{1000};

/// Adds --allow-foreign-owner (attach to a queue another user owns) to a subcommand that
/// writes to the queue or changes it.
void add_allow_foreign_owner(CLI::App &app, bool &allow);

/// The help of a NAME argument that may be a shared-memory or a NATS queue.
inline constexpr const char *kQueueNameHelp =
    "Queue name: NAME in /dev/shm, or nats://[USER:PASSWORD@]host[:port]/NAME (or tls://...)";
/// Adds --token, --creds, --tls, --tls-ca, --tls-cert and --tls-key, filling `access`:
/// how to log in to a NATS server and use TLS.
void add_nats_access(CLI::App &app, pysyncq::NatsAccess &access);

/// Members whose process is alive, other than pid `except`.
std::vector<int> live_member_pids(const pysyncq::Stats &stats, int except = 0);

} // namespace syncq
