// syncq: look inside and drive pysyncq queues from a shell.
//
// This file only wires CLI11: one subcommand per file in commands/, the exit-status
// policy of Unix tools (0 ok, 1 runtime failure, 2 usage error), errors on stderr as
// "syncq: ...". docs/cli.md is the user's manual, including the --json formats.
#include "common.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Runs a parsed subcommand, turning every exception into "syncq: <what>" and status 1.
int run_reporting_errors(const std::function<int()> &run) {
  try {
    return run();
  } catch (const syncq::BrokenPipe &) {
    return 0; // whoever read our output stopped reading: not an error of ours
  } catch (const std::exception &error) {
    // Escaped: the message may quote a name, a sender or a server's words, any of which
    // another user chose (a terminal escape in a file name, say).
    std::cerr << "syncq: " << syncq::escape_text(error.what()) << '\n';
    return kExitFailure;
  }
}

int run_main(int argc, char **argv) {
  // A closed pipe on stdout must come back as EPIPE, not kill us before a registered
  // member (tail, send) closes: a killed member would hold back space until reaped.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"syncq: list, inspect, follow and drive pysyncq queues (POSIX shared memory "
               "in /dev/shm, or NATS JetStream: nats://host[:port]/NAME).",
               "syncq"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PYSYNCQ_VERSION);
  app.footer("Exit status: 0 success, 1 runtime failure (message on stderr), 2 usage error.\n"
             "Run 'syncq COMMAND --help' for one command. Manual: docs/cli.md.");
  app.failure_message([](const CLI::App *top, const CLI::Error &error) {
    const auto chosen = top->get_subcommands();
    const std::string verb = chosen.empty() ? "" : " " + chosen.front()->get_name();
    return "syncq" + verb + ": " + syncq::escape_text(error.what()) + "\nRun 'syncq" + verb +
           " --help' for more information.\n";
  });

  const std::vector<syncq::Command> commands = {
      syncq::add_ls(app),   syncq::add_stat(app), syncq::add_tail(app),  syncq::add_send(app),
      syncq::add_reap(app), syncq::add_rm(app),   syncq::add_create(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &error) {
    // --help and --version are "errors" with status 0; every real one is a usage error.
    return app.exit(error) == 0 ? 0 : kExitUsage;
  }
  for (const syncq::Command &command : commands) {
    if (command.app->parsed()) {
      return run_reporting_errors(command.run);
    }
  }
  return kExitUsage; // unreachable: require_subcommand(1)
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception &error) { // building the parser itself failed
    std::cerr << "syncq: " << syncq::escape_text(error.what()) << '\n';
    return kExitFailure;
  }
}
