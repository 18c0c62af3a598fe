// syncq tail NAME: register as a member and print each message as it arrives.
//
// A member reads everything appended after it registered, so tail shows new messages
// only (like `tail -f` started at the end). While it runs it is a member like any
// other: a tail that stops reading (suspended, or its output blocked) holds back space.
#include "../common.hpp"

#include <iostream>
#include <unistd.h>

namespace syncq {

namespace {

struct TailOptions {
  std::string name;
  std::vector<std::string> types;
  std::vector<std::string> senders;
  bool raw = false;
  std::string as = "syncq-tail";
  std::uint64_t count = 0; // 0: until stopped
  bool quiet = false;
  pysyncq::NatsAccess access;
  bool allow_foreign_owner = false;
};

bool wanted(const std::vector<std::string> &accepted, std::string_view value) {
  if (accepted.empty()) {
    return true;
  }
  for (const std::string &one : accepted) {
    if (one == value) {
      return true;
    }
  }
  return false;
}

// Follows until `count` messages were printed or a stop was asked (Ctrl-C, SIGTERM,
// closed stdout). Throws Interrupted on a stop; other errors propagate.
void follow(pysyncq::Queue &queue, const TailOptions &options) {
  std::uint64_t printed = 0;
  std::string line;
  const auto print = [&](const pysyncq::MessageView &message) {
    if (!wanted(options.senders, message.sender) || !wanted(options.types, message.type)) {
      return; // read and dropped: a member cannot leave a message unread
    }
    line.clear();
    if (options.raw) {
      line.append(message.body);
    } else {
      line = escape_text(message.sender) + '\t' + escape_text(message.type) + '\t' +
             escape_text(message.body);
    }
    line += '\n';
    // Throwing from here leaves the message unread, which is right: we were stopped.
    write_stdout(line, true);
    ++printed;
  };
  while (options.count == 0 || printed < options.count) {
    throw_if_stop_requested();
    if (!queue.try_pop_visit(print)) {
      queue.wait_for_message(pysyncq::Deadline::never()); // the hook throws on a stop
    }
  }
}

int run_tail(const TailOptions &options) {
  install_stop_handlers();
  pysyncq::AttachOptions attach;
  attach.allow_foreign_owner = options.allow_foreign_owner;
  pysyncq::Queue queue = attach_queue(options.name, options.access, attach);
  queue.set_interrupt_hook(throw_if_stop_requested);
  queue.open(options.as);
  if (!options.quiet) {
    std::cerr << "syncq tail: following '" << escape_text(queue.name()) << "' as member '"
              << escape_text(options.as) << "' (pid " << ::getpid() << "); Ctrl-C to stop"
              << std::endl;
  }
  try {
    follow(queue, options);
  } catch (const pysyncq::Interrupted &) {
    // Ctrl-C or SIGTERM: the ordinary way to stop following; close below.
  } catch (const BrokenPipe &) {
    // Our reader went away (`syncq tail q | head -1`): close below, exit 0.
  }
  queue.close(); // may unlink the queue if we were its last member (defined behaviour)
  return 0;
}

} // namespace

Command add_tail(CLI::App &parent) {
  auto options = std::make_shared<TailOptions>();
  CLI::App *app =
      parent.add_subcommand("tail", "Register and print each message as it arrives, like tail -f");
  app->footer(
      wrap("Registers as a member of queue NAME and prints each message appended from now on, one "
           "line each: SENDER<TAB>TYPE<TAB>BODY, where bytes that are not UTF-8 show as \\xNN and "
           "\\ newline CR tab and control characters are escaped. Ctrl-C (or SIGTERM, or a closed "
           "output pipe) closes the registration cleanly and exits 0. NOTE: like every member, "
           "tail's close unlinks the queue when tail is the last member registered. While "
           "following, tail holds back the space of messages it has not read yet."));
  app->add_option("NAME", options->name, kQueueNameHelp)->required();
  app->add_option("--type", options->types,
                  "Print only messages of this type (repeat for several; others are read "
                  "and dropped)")
      ->allow_extra_args(false);
  app->add_option("--sender", options->senders,
                  "Print only messages from this sender (repeat for several)")
      ->allow_extra_args(false);
  app->add_flag("--raw", options->raw,
                "Print only each body, its bytes unchanged (no escaping), then a newline");
  app->add_option("--as", options->as, "Sender name to register under")->capture_default_str();
  app->add_option("-n,--count", options->count,
                  "Exit 0 after printing this many messages (default: follow until stopped)")
      ->check(CLI::PositiveNumber);
  app->add_flag("-q,--quiet", options->quiet,
                "Do not print the 'following ...' notice on stderr once registered");
  add_nats_access(*app, options->access);
  add_allow_foreign_owner(*app, options->allow_foreign_owner);
  return {app, [options] { return run_tail(*options); }};
}

} // namespace syncq
