#include "text.hpp"

#include "common.hpp"
#include "signals.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <unistd.h>

namespace syncq {

namespace {

// Length of the valid UTF-8 sequence that starts `text` (1 to 4), or 0 when the first
// byte does not start one: overlong forms, surrogates and code points past U+10FFFF
// are invalid (RFC 3629).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80; // allowed range of the second byte
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) {
      low = 0xA0; // overlong
    } else if (lead == 0xED) {
      high = 0x9F; // surrogates
    }
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) {
      low = 0x90; // overlong
    } else if (lead == 0xF4) {
      high = 0x8F; // past U+10FFFF
    }
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) {
      return 0;
    }
  }
  return length;
}

// The code point of a sequence utf8_sequence_length() accepted.
char32_t decode(std::string_view sequence) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(
                                             static_cast<unsigned char>(sequence[i])); };
  switch (sequence.size()) {
  case 1:
    return byte(0);
  case 2:
    return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
  case 3:
    return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
  default:
    return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
           (byte(3) & 0x3F);
  }
}

std::string hex(std::uint32_t value, int digits, const char *prefix) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(prefix);
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
    out += kDigits[(value >> shift) & 0xF];
  }
  return out;
}

} // namespace

bool is_terminal_control(char32_t code_point) noexcept {
  return code_point < 0x20 || code_point == 0x7F || (code_point >= 0x80 && code_point <= 0x9F) ||
         (code_point >= 0x202A && code_point <= 0x202E) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

const char *backslash_escape(char32_t code_point) noexcept {
  switch (code_point) {
  case '\\':
    return "\\\\";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  default:
    return nullptr;
  }
}

std::string hex_digits(std::uint32_t value, int digits, const char *prefix) {
  return hex(value, digits, prefix);
}

void for_each_code_point(std::string_view text,
                         const std::function<void(char32_t, std::string_view)> &valid,
                         const std::function<void(unsigned char)> &invalid) {
  while (!text.empty()) {
    const std::size_t length = utf8_sequence_length(text);
    if (length == 0) {
      invalid(static_cast<unsigned char>(text.front()));
      text.remove_prefix(1);
      continue;
    }
    const std::string_view sequence = text.substr(0, length);
    valid(decode(sequence), sequence);
    text.remove_prefix(length);
  }
}

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for_each_code_point(
      text,
      [&](char32_t code_point, std::string_view bytes) {
        if (const char *escape = backslash_escape(code_point)) {
          out += escape;
        } else if (code_point < 0x20 || code_point == 0x7F) {
          out += hex(code_point, 2, "\\x");
        } else if (is_terminal_control(code_point)) {
          out += hex(code_point, 4, "\\u");
        } else {
          out.append(bytes);
        }
      },
      [&](unsigned char byte) { out += hex(byte, 2, "\\x"); });
  return out;
}

std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80; // not a continuation byte
  }));
}

std::string wrap(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t line_width = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(' '), text.size());
    const std::string_view word = text.substr(0, end);
    const std::size_t word_width = display_width(word);
    if (line_width != 0 && line_width + 1 + word_width > width) {
      out += '\n';
      line_width = 0;
    } else if (line_width != 0) {
      out += ' ';
      ++line_width;
    }
    out.append(word);
    line_width += word_width;
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

Table::Table(std::vector<std::string> header, std::vector<Align> align) : align_(std::move(align)) {
  rows_.push_back(std::move(header));
}

void Table::add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

std::string Table::render() const {
  std::vector<std::size_t> widths(align_.size(), 0);
  for (const auto &row : rows_) {
    for (std::size_t column = 0; column < row.size() && column < widths.size(); ++column) {
      widths[column] = std::max(widths[column], display_width(row[column]));
    }
  }
  std::string out;
  for (const auto &row : rows_) {
    std::string line;
    for (std::size_t column = 0; column < row.size() && column < widths.size(); ++column) {
      const std::string padding(widths[column] - display_width(row[column]), ' ');
      if (column != 0) {
        line += "  ";
      }
      line += align_[column] == Align::kRight ? padding + row[column] : row[column] + padding;
    }
    // No trailing blanks: the last column is often left-aligned.
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + '\n';
  }
  return out;
}

void write_stdout(std::string_view bytes, bool interruptible) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) {
        if (interruptible) {
          throw_if_stop_requested();
        }
        continue;
      }
      if (errno == EPIPE) {
        throw BrokenPipe();
      }
      throw Failure(std::string("cannot write to standard output: ") +
                    std::generic_category().message(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

std::string count_of(std::uint64_t count, const std::string &singular) {
  return std::to_string(count) + " " + singular + (count == 1 ? "" : "s");
}

} // namespace syncq
