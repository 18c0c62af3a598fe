// A program outside the tree, built against an installed pysyncq (tests/consumer/check_cxx.sh):
// two processes on one queue, each appends and reads the other's message. Exits 0 and prints
// "ok" when both did.
#include <pysyncq/queue.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

// The message from `from`, or an empty string after 10 s without one.
std::string body_from(pysyncq::Queue &q, const std::string &from) {
  while (auto m = q.pop(pysyncq::Deadline::after(10s))) {
    if (m->sender == from) {
      return m->body;
    }
  }
  return {};
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s QUEUE_NAME\n", argv[0]);
    return 2;
  }
  try {
    auto q = pysyncq::Queue::create(argv[1], {.capacity_bytes = 1 << 16});
    q.open("parent");
    const pid_t child = ::fork();
    if (child == 0) {
      int status = 1;
      try {
        auto c = pysyncq::Queue::attach(argv[1]);
        c.open("child");
        c.append("greeting", "from the child");
        status = body_from(c, "parent") == "from the parent" ? 0 : 1;
        c.close();
      } catch (const std::exception &e) {
        std::fprintf(stderr, "child: %s\n", e.what());
      }
      ::_exit(status);
    }
    // The child is a member once its message is here: only then can it read ours.
    const bool got = body_from(q, "child") == "from the child";
    q.append("greeting", "from the parent");
    int status = 0;
    ::waitpid(child, &status, 0);
    q.close();
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "the messages did not cross (parent got one: %d)\n", got);
      return 1;
    }
    std::puts("ok");
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
