// syncq create NAME --size BYTES: make an empty queue with no members. Nothing unlinks
// it until a member that opened it closes as the last one (or `syncq rm`).
#include "../common.hpp"

#include <sys/stat.h>

namespace syncq {

namespace {

struct CreateOptions {
  std::string name;
  std::string size;
  std::string mode = "0600";
  std::uint32_t max_members = pysyncq::CreateOptions{}.max_members;
};

int run_create(const CreateOptions &options) {
  if (options.name.find("://") != std::string::npos) {
    // Not the name itself in the message: a URL may carry a password.
    throw Failure("create makes shared-memory queues only: a NATS queue is made with the "
                  "library, by a program that chooses its replicas, storage and liveness");
  }
  pysyncq::CreateOptions create;
  create.capacity_bytes = parse_size(options.size);
  if (create.capacity_bytes == 0) {
    throw Failure("--size must be at least 1 byte");
  }
  create.mode = parse_mode(options.mode);
  create.max_members = options.max_members;
  // --mode is the mode the file gets, as with `mkdir -m`: the umask does not apply.
  ::umask(0);
  try {
    (void)pysyncq::Queue::create(options.name, create); // attach-only handle: no unlink
  } catch (const pysyncq::SyscallError &error) {
    if (error.error_number() == EEXIST) {
      throw Failure("'" + options.name + "' already exists in /dev/shm");
    }
    throw;
  }
  return 0;
}

} // namespace

Command add_create(CLI::App &parent) {
  auto options = std::make_shared<CreateOptions>();
  CLI::App *app = parent.add_subcommand("create", "Create an empty queue");
  app->footer(
      wrap("Creates queue NAME with no members. Processes then attach and open it; the last "
           "member to close it unlinks it (until then it stays, or `syncq rm` removes it). "
           "The capacity is rounded up to a multiple of 8 bytes."));
  app->add_option("NAME", options->name, "Queue name (as in /dev/shm)")->required();
  app->add_option("-s,--size", options->size,
                  "Bytes of message storage: 4096, 64K, 1M, 2G (K/M/G are powers of 1024)")
      ->required()
      ->check([](const std::string &text) -> std::string {
        try {
          (void)parse_size(text);
          return {};
        } catch (const CLI::ValidationError &error) {
          return error.what();
        }
      });
  app->add_option("-m,--mode", options->mode,
                  "Octal permission bits of /dev/shm/NAME, applied exactly (the umask does "
                  "not apply)")
      ->capture_default_str()
      ->check([](const std::string &text) -> std::string {
        try {
          (void)parse_mode(text);
          return {};
        } catch (const CLI::ValidationError &error) {
          return error.what();
        }
      });
  app->add_option("--max-members", options->max_members,
                  "How many processes can be registered at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  return {app, [options] { return run_create(*options); }};
}

} // namespace syncq
