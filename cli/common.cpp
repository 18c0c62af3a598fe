#include "common.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <system_error>
#include <unistd.h>

namespace syncq {

pysyncq::Queue attach_queue(const std::string &name, const pysyncq::NatsAccess &access) {
  try {
    return pysyncq::Queue::attach(name, access);
  } catch (const pysyncq::SyscallError &error) {
    if (name.find("://") != std::string::npos) {
      throw; // a NATS URL: the library's message names the server, with no password
    }
    switch (error.error_number()) {
    case ENOENT:
      throw Failure("queue '" + name + "' does not exist");
    case EACCES:
      throw Failure("no permission to open queue '" + name + "' (/dev/shm/" + name + ")");
    default:
      throw;
    }
  }
}

void add_nats_access(CLI::App &app, pysyncq::NatsAccess &access) {
  const std::string group = "NATS options (nats:// and tls:// names)";
  app.add_option("--token", access.token,
                 "Authorization token of the NATS server (from $SYNCQ_TOKEN when not given, "
                 "which keeps it out of the process list)")
      ->envname("SYNCQ_TOKEN")
      ->group(group);
  app.add_option("--creds", access.credentials_file,
                 "NATS credentials file (user JWT and NKey seed)")
      ->check(CLI::ExistingFile)
      ->group(group);
  app.add_flag("--tls", access.tls, "Insist on TLS (as a tls:// name does)")->group(group);
  app.add_option("--tls-ca", access.tls_ca_file,
                 "PEM file of the CAs that signed the server's certificate")
      ->check(CLI::ExistingFile)
      ->group(group);
  CLI::Option *cert = app.add_option("--tls-cert", access.tls_cert_file,
                                     "PEM file of this client's certificate, for servers that "
                                     "verify clients")
                          ->check(CLI::ExistingFile)
                          ->group(group);
  CLI::Option *key = app.add_option("--tls-key", access.tls_key_file,
                                    "PEM file of the client certificate's private key")
                         ->check(CLI::ExistingFile)
                         ->group(group);
  cert->needs(key);
  key->needs(cert);
}

// --- text ---

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

std::string hex_escape(unsigned char byte, const char *prefix) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(prefix);
  out += kDigits[byte >> 4];
  out += kDigits[byte & 0xF];
  return out;
}

} // namespace

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t length = utf8_sequence_length(text);
    const auto byte = static_cast<unsigned char>(text.front());
    if (length == 0) {
      out += hex_escape(byte, "\\x");
      text.remove_prefix(1);
      continue;
    }
    if (length == 1) {
      switch (byte) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += byte < 0x20 || byte == 0x7F ? hex_escape(byte, "\\x") : std::string(1, text[0]);
      }
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  while (!text.empty()) {
    const std::size_t length = utf8_sequence_length(text);
    const auto byte = static_cast<unsigned char>(text.front());
    if (length == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER
      text.remove_prefix(1);
      continue;
    }
    if (length == 1) {
      switch (byte) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += byte < 0x20 ? hex_escape(byte, "\\u00") : std::string(1, text[0]);
      }
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  out += '"';
  return out;
}

std::string waiting_name(pysyncq::MemberStats::Waiting waiting) {
  switch (waiting) {
  case pysyncq::MemberStats::Waiting::kForMessage:
    return "message";
  case pysyncq::MemberStats::Waiting::kForSpace:
    return "space";
  case pysyncq::MemberStats::Waiting::kNo:
    break;
  }
  return "none";
}

std::string stats_json(const pysyncq::Stats &stats, bool member_list) {
  const auto number = [](std::uint64_t value) { return std::to_string(value); };
  const auto boolean = [](bool value) { return std::string(value ? "true" : "false"); };
  std::string out = "{\"name\": " + json_string(stats.name) +
                    ", \"capacity_bytes\": " + number(stats.capacity_bytes) +
                    ", \"used_bytes\": " + number(stats.used_bytes) +
                    ", \"queued_messages\": " + number(stats.queued_messages) +
                    ", \"max_members\": " + number(stats.max_members) +
                    ", \"members\": " + number(stats.members) +
                    ", \"dead_members\": " + number(stats.dead_members) +
                    ", \"reaped_total\": " + number(stats.reaped_total) +
                    ", \"lock_recoveries\": " + number(stats.lock_recoveries) +
                    ", \"segment_bytes\": " + number(stats.segment_bytes) +
                    ", \"unlinked\": " + boolean(stats.unlinked);
  if (member_list) {
    out += ", \"member_list\": [";
    bool first = true;
    for (const pysyncq::MemberStats &member : stats.member_list) {
      out += first ? "" : ", ";
      first = false;
      out += "{\"slot\": " + number(member.slot) + ", \"pid\": " + std::to_string(member.pid) +
             ", \"sender\": " + json_string(member.sender) +
             ", \"alive\": " + boolean(member.alive) +
             ", \"unread_messages\": " + number(member.unread_messages) +
             ", \"unread_bytes\": " + number(member.unread_bytes) +
             ", \"backlog_messages\": " + number(member.backlog_messages) +
             ", \"backlog_bytes\": " + number(member.backlog_bytes) +
             ", \"waiting\": " + json_string(waiting_name(member.waiting)) + ", \"waiting_ns\": " +
             number(member.waiting == pysyncq::MemberStats::Waiting::kNo
                        ? 0
                        : static_cast<std::uint64_t>(member.waiting_for.count())) +
             "}";
    }
    out += "]";
  }
  return out + "}";
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

// --- stopping on Ctrl-C ---

namespace {

std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

// SIGINT/SIGTERM: ask to stop. A signal that lands between the queue's interrupt hook
// and its futex sleep would be missed by that sleep, so we also arm SIGALRM, whose
// handler re-arms itself: every second a blocked wait gets EINTR and re-runs the hook
// until the process has stopped. alarm() is async-signal-safe.
extern "C" void on_stop_signal(int /*signal*/) {
  const int saved_errno = errno;
  stop_flag.store(true, std::memory_order_relaxed); // read by the same thread or after EINTR
  ::alarm(1);
  errno = saved_errno;
}

extern "C" void on_alarm(int /*signal*/) {
  const int saved_errno = errno;
  if (stop_flag.load(std::memory_order_relaxed)) {
    ::alarm(1);
  }
  errno = saved_errno;
}

void install(int signal, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; // no SA_RESTART: blocking system calls must return EINTR
  if (::sigaction(signal, &action, nullptr) != 0) {
    throw Failure(std::string("sigaction: ") + std::generic_category().message(errno));
  }
}

} // namespace

void install_stop_handlers() {
  install(SIGALRM, on_alarm);
  install(SIGINT, on_stop_signal);
  install(SIGTERM, on_stop_signal);
}

bool stop_requested() noexcept { return stop_flag.load(std::memory_order_relaxed); }

void throw_if_stop_requested() {
  if (stop_requested()) {
    throw pysyncq::Interrupted("interrupted by a signal");
  }
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

// --- argument values ---

std::uint64_t parse_size(const std::string &text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    throw CLI::ValidationError("--size",
                               "'" + text + "' is not a size in bytes (e.g. 4096, 64K, 1M)");
  }
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KIB") {
    shift = 10;
  } else if (unit == "M" || unit == "MIB") {
    shift = 20;
  } else if (unit == "G" || unit == "GIB") {
    shift = 30;
  } else {
    throw CLI::ValidationError("--size", "unknown unit '" + text.substr(digits) +
                                             "' (use K, M or G, powers of 1024)");
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      throw CLI::ValidationError("--size", "'" + text + "' is too large");
    }
    value = value * 10 + digit;
  }
  if (shift != 0 && value > (UINT64_MAX >> shift)) {
    throw CLI::ValidationError("--size", "'" + text + "' is too large");
  }
  return value << shift;
}

unsigned parse_mode(const std::string &text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos) {
    throw CLI::ValidationError("--mode", "'" + text + "' is not an octal mode like 0660");
  }
  const unsigned mode = static_cast<unsigned>(std::stoul(text, nullptr, 8));
  if (mode > 0777) {
    throw CLI::ValidationError("--mode",
                               "'" + text + "' has bits beyond 0777 (setuid, setgid, sticky)");
  }
  return mode;
}

std::vector<int> live_member_pids(const pysyncq::Stats &stats, int except) {
  std::vector<int> pids;
  for (const pysyncq::MemberStats &member : stats.member_list) {
    if (member.alive && member.pid != except) {
      pids.push_back(member.pid);
    }
  }
  return pids;
}

std::string count_of(std::uint64_t count, const std::string &singular) {
  return std::to_string(count) + " " + singular + (count == 1 ? "" : "s");
}

} // namespace syncq
