// A C++ member of a pysyncq queue, the C++ side of `make demo`.
//
//   pysyncq_chat NAME [SENDER]
//
// Attaches to the queue NAME (made by someone else, e.g. the Python demo), opens it as
// SENDER, then follows the demo's protocol: wait for a 'start' message, append a
// 'sentence' now and then while printing every sentence read and who sent it, and
// close on 'stop'. Exits 0 after a clean close, 1 on error, 2 on bad usage.
#include <pysyncq/queue.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

int main(int argc, char **argv) {
  using namespace std::chrono_literals;
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s NAME [SENDER]\n", argv[0]);
    return 2;
  }
  try {
    pysyncq::Queue queue = pysyncq::Queue::attach(argv[1]);
    queue.open(argc == 3 ? argv[2] : "c++-" + std::to_string(::getpid()));
    queue.screened_senders().insert(queue.sender()); // like the Python default filtself
    std::printf("%s: registered on %s\n", queue.sender().c_str(), argv[1]);
    std::fflush(stdout);

    bool started = false;
    int sent = 0;
    auto next_sentence = pysyncq::Clock::now();
    for (;;) {
      const auto wait = started ? pysyncq::Deadline::at(next_sentence)
                                : pysyncq::Deadline::after(30s);
      std::optional<pysyncq::Message> message = queue.pop(wait);
      if (message) {
        if (message->type == "start") {
          started = true;
        } else if (message->type == "stop") {
          break;
        } else if (message->type == "sentence") {
          std::printf("%s read from %s: %s\n", queue.sender().c_str(), message->sender.c_str(),
                      message->body.c_str());
          std::fflush(stdout);
        }
        continue;
      }
      if (!started) {
        std::fprintf(stderr, "%s: no start message within 30 s\n", queue.sender().c_str());
        return 1;
      }
      if (pysyncq::Clock::now() >= next_sentence) {
        const std::string body = "C++ says hello, number " + std::to_string(++sent);
        queue.append("sentence", body, pysyncq::Deadline::after(500ms));
        next_sentence = pysyncq::Clock::now() + 200ms;
      }
    }
    queue.close();
    std::printf("%s: closed after sending %d sentences\n", argv[2] ? argv[2] : "c++", sent);
    return 0;
  } catch (const pysyncq::Error &error) {
    std::fprintf(stderr, "pysyncq_chat: %s\n", error.what());
    return 1;
  }
}
