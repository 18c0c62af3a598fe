// What Pipe does on top of receive(), the same on every OS (processes.cpp and
// processes_windows.cpp give receive() and send()).
#include "support/processes.hpp"

#include <string>

namespace pysyncq::testing {

bool Pipe::expect(char expected, std::chrono::milliseconds timeout) const {
  char byte = 0;
  return receive(byte, timeout) && byte == expected;
}

bool Pipe::receive_line(std::string &line, std::chrono::milliseconds timeout) const {
  line.clear();
  char byte = 0;
  while (receive(byte, timeout)) {
    if (byte == '\n') {
      return true;
    }
    line += byte;
  }
  return false;
}

} // namespace pysyncq::testing
