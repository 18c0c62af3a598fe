// syncq send NAME TYPE [BODY | -]: register, append one message, close.
//
// Policy: send refuses (exit 1, nothing sent) when no live process other than itself is
// registered. Such a message could never be read (members read only what is appended
// after they register), and send's own close, as the last member's close, would unlink
// the queue: a send into an idle queue would destroy it. Between the check and the
// close another member may still leave; then the close unlinks, as the library promises.
#include "../common.hpp"

#include <cerrno>
#include <system_error>
#include <unistd.h>

namespace syncq {

namespace {

struct SendOptions {
  std::string name;
  std::string type;
  std::string body;
  bool block = false;
  std::string timeout = "0.5"; // seconds, or "none"; the guide's default timer
  std::string as = "syncq-send";
  pysyncq::NatsAccess access;
  bool allow_foreign_owner = false;
};

std::string read_all_stdin() {
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got == 0) {
      return data;
    }
    if (got < 0) {
      if (errno == EINTR) {
        throw_if_stop_requested();
        continue;
      }
      throw Failure(std::string("cannot read the body from standard input: ") +
                    std::generic_category().message(errno));
    }
    data.append(buffer, static_cast<std::size_t>(got));
  }
}

pysyncq::Deadline deadline_of(const SendOptions &options, bool timeout_given) {
  if (!options.block && !timeout_given) {
    return pysyncq::Deadline::now();
  }
  if (options.timeout == "none") {
    return pysyncq::Deadline::never();
  }
  const double seconds = std::stod(options.timeout); // validated at parse time
  return pysyncq::Deadline::after(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds)));
}

int run_send(const SendOptions &options, bool timeout_given) {
  install_stop_handlers();
  const std::string body = options.body == "-" ? read_all_stdin() : options.body;
  pysyncq::AttachOptions attach;
  attach.allow_foreign_owner = options.allow_foreign_owner;
  pysyncq::Queue queue = attach_queue(options.name, options.access, attach);
  // Checked here as well as by append, which only says so when it would wait.
  const std::uint64_t needed =
      pysyncq::Queue::footprint(options.as.size(), options.type.size(), body.size());
  if (needed > queue.capacity_bytes()) {
    throw Failure("message of " + std::to_string(needed) + " bytes can never fit queue '" +
                  queue.name() + "': its capacity is " + std::to_string(queue.capacity_bytes()) +
                  " bytes");
  }
  if (live_member_pids(queue.stats()).empty()) {
    throw Failure("queue '" + queue.name() +
                  "' has no live member to read the message; nothing sent (a send into a "
                  "queue without members would unlink it when syncq closes)");
  }
  queue.set_interrupt_hook(throw_if_stop_requested);
  queue.open(options.as);
  try {
    queue.append(options.type, body, deadline_of(options, timeout_given));
  } catch (const pysyncq::Interrupted &) {
    queue.close();
    throw Failure("interrupted while waiting for space; nothing sent");
  }
  queue.close();
  return 0;
}

} // namespace

Command add_send(CLI::App &parent) {
  auto options = std::make_shared<SendOptions>();
  CLI::App *app = parent.add_subcommand("send", "Append one message (registers, appends, closes)");
  app->footer(wrap(
      "Appends one message to queue NAME: registers as a member, appends, closes. BODY '-' reads "
      "the body from stdin (bytes unchanged); without BODY the body is empty. Every member "
      "registered at that moment will read it. Refuses (exit 1) when no live process other "
      "than syncq is registered: nobody could read the message and syncq's close, as the "
      "last member's, would unlink the queue. Without --block a full queue fails at once."));
  app->add_option("NAME", options->name, kQueueNameHelp)->required();
  app->add_option("TYPE", options->type, "Message type (may be empty: '')")->required();
  app->add_option("BODY", options->body, "Message body, or '-' to read it from stdin");
  app->add_flag("--block", options->block,
                "Wait for space when the queue is full, up to --timeout seconds");
  CLI::Option *timeout =
      app->add_option("--timeout", options->timeout,
                      "Seconds --block waits for space, or 'none' to wait as long as it "
                      "takes; implies --block")
          ->capture_default_str()
          ->check([](const std::string &text) -> std::string {
            if (text == "none") {
              return {};
            }
            try {
              std::size_t used = 0;
              const double seconds = std::stod(text, &used);
              if (used == text.size() && seconds >= 0 && seconds < 1e9) {
                return {};
              }
            } catch (const std::exception &) { // NOLINT(bugprone-empty-catch): reported below
            }
            return "'" + text + "' is not a number of seconds >= 0 or 'none'";
          });
  app->add_option("--as", options->as, "Sender name the message carries")->capture_default_str();
  add_nats_access(*app, options->access);
  add_allow_foreign_owner(*app, options->allow_foreign_owner);
  return {app, [options, timeout] { return run_send(*options, timeout->count() != 0); }};
}

} // namespace syncq
