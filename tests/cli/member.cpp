// syncq_test_member NAME [SENDER]: a queue member that a test drives line by line, so
// the syncq CLI tests can make live, blocked and killed members without the Python
// package. It attaches to NAME, opens it as SENDER (default: its pid), prints
// "ready PID", then obeys one command per stdin line, answering one line each:
//
//   append TYPE BODY        -> "appended FOOTPRINT" | "full"   (no wait)
//   append-block TYPE BODY  -> "appended FOOTPRINT"            (waits as long as it takes)
//   pop                     -> "message SENDER TYPE BODY" | "none"   (no wait)
//   pop-wait SECONDS        -> as pop, waiting up to SECONDS
//   drain                   -> "drained N" (pops every unread message)
//   close                   -> "closed", then exits 0
//
// TYPE, BODY and the fields of "message" are hex-encoded bytes ("-" for empty), so any
// bytes travel on a line. End of input closes too. Errors: "error TEXT" on stdout, exit 1.
#include <pysyncq/queue.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

std::string to_hex(std::string_view bytes) {
  if (bytes.empty()) {
    return "-";
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xF];
  }
  return out;
}

std::string from_hex(const std::string &hex) {
  if (hex == "-") {
    return {};
  }
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

void answer(const std::string &line) {
  std::cout << line << std::endl; // flushed: the test waits for each line
}

std::string message_line(const std::optional<pysyncq::Message> &message) {
  if (!message) {
    return "none";
  }
  return "message " + to_hex(message->sender) + " " + to_hex(message->type) + " " +
         to_hex(message->body);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: syncq_test_member NAME [SENDER]\n";
    return 2;
  }
  try {
    pysyncq::Queue queue = pysyncq::Queue::attach(argv[1]);
    queue.open(argc == 3 ? argv[2] : "");
    answer("ready " + std::to_string(::getpid()));
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream words(line);
      std::string verb;
      words >> verb;
      if (verb == "append" || verb == "append-block") {
        std::string type;
        std::string body;
        words >> type >> body;
        type = from_hex(type);
        body = from_hex(body);
        const std::uint64_t footprint =
            pysyncq::Queue::footprint(queue.sender().size(), type.size(), body.size());
        if (verb == "append") {
          answer(queue.try_append(type, body) ? "appended " + std::to_string(footprint) : "full");
        } else {
          queue.append(type, body, pysyncq::Deadline::never());
          answer("appended " + std::to_string(footprint));
        }
      } else if (verb == "pop") {
        answer(message_line(queue.pop()));
      } else if (verb == "pop-wait") {
        double seconds = 0;
        words >> seconds;
        answer(message_line(
            queue.pop(pysyncq::Deadline::after(std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(seconds))))));
      } else if (verb == "drain") {
        int drained = 0;
        while (queue.pop()) {
          ++drained;
        }
        answer("drained " + std::to_string(drained));
      } else if (verb == "close") {
        break;
      } else {
        answer("error unknown command '" + verb + "'");
        return 1;
      }
    }
    queue.close();
    answer("closed");
    return 0;
  } catch (const pysyncq::Error &error) {
    answer(std::string("error ") + error.what());
    return 1;
  }
}
