// pysyncq_blocking_writer NAME SENDER INDEX COUNT MAX_BODY EXPECT: a C++ writer for the
// Python tests of blocking appends (tests/python/test_blocking_appends.py), so that a C++
// process writes among Python ones, as the guide's writers do: every append blocks (up to
// 10 s), and after each one it reads whatever has come. It screens its own messages (the
// Python writers' filtself). Prints "ready", waits for a line "go" on stdin, writes COUNT
// messages "INDEX:I:xxx" (I from 0, up to MAX_BODY filler bytes, a fixed pseudo-random
// sequence), then reads until it has EXPECT messages (30 s at most). Prints one line
// "got SENDER BODY_PREFIX" per message read (BODY_PREFIX: "INDEX:I"), then "done", and
// exits 0; on an error "error TEXT" and exit 1.
#include <pysyncq/queue.hpp>

#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::string id_of(const std::string &body) {
  const auto second = body.find(':', body.find(':') + 1);
  return body.substr(0, second);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s NAME SENDER INDEX COUNT MAX_BODY EXPECT\n", argv[0]);
    return 2;
  }
  const std::string index = argv[3];
  const int count = std::stoi(argv[4]);
  const int max_body = std::stoi(argv[5]);
  const std::size_t expect = std::stoul(argv[6]);
  std::vector<std::string> got;
  try {
    pysyncq::Queue queue = pysyncq::Queue::attach(argv[1]);
    queue.open(argv[2]);
    queue.screened_senders().insert(argv[2]);
    std::cout << "ready" << std::endl;
    std::string line;
    if (!std::getline(std::cin, line) || line != "go") {
      return 2;
    }
    std::mt19937 random(static_cast<unsigned>(std::stoi(index)));
    std::uniform_int_distribution<int> filler(0, max_body);
    const auto read_all = [&] {
      while (auto message = queue.pop()) {
        got.push_back(message->sender + " " + id_of(message->body));
      }
    };
    for (int i = 0; i < count; ++i) {
      const std::string body = index + ":" + std::to_string(i) + ":" +
                               std::string(static_cast<std::size_t>(filler(random)), 'x');
      queue.append("seq", body, pysyncq::Deadline::after(10s));
      read_all();
    }
    const pysyncq::Deadline give_up = pysyncq::Deadline::after(30s);
    while (got.size() < expect && !give_up.has_passed()) {
      if (auto message = queue.pop(pysyncq::Deadline::after(500ms))) {
        got.push_back(message->sender + " " + id_of(message->body));
      }
    }
    queue.close();
  } catch (const std::exception &error) {
    std::cout << "error " << error.what() << std::endl;
    return 1;
  }
  for (const std::string &entry : got) {
    std::cout << "got " << entry << "\n";
  }
  std::cout << "done" << std::endl;
  return 0;
}
