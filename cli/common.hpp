// Helpers shared by the syncq subcommands: how a subcommand is wired, how text and
// JSON are written, how queues are opened with messages a user can act on, and how
// Ctrl-C reaches a blocking wait. Each subcommand lives in commands/<verb>.cpp.
#pragma once

#include <pysyncq/queue.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace syncq {

/// A subcommand: its CLI11 node and what runs once the command line parsed.
/// `run` returns the exit status (0 ok, 1 runtime failure) or throws.
struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run;
};

Command add_ls(CLI::App &parent);
Command add_stat(CLI::App &parent);
Command add_tail(CLI::App &parent);
Command add_send(CLI::App &parent);
Command add_reap(CLI::App &parent);
Command add_rm(CLI::App &parent);
Command add_create(CLI::App &parent);

/// A failure to report as "syncq: <what>" with exit status 1.
class Failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown when stdout is a pipe whose reader went away: the command stops quietly
/// (after closing any registration) and exits 0.
class BrokenPipe : public std::runtime_error {
public:
  BrokenPipe() : std::runtime_error("broken pipe") {}
};

/// Attaches to queue `name`, turning the core's errno-level errors into sentences:
/// "queue 'x' does not exist". NotAQueue / LayoutMismatch and every error about a NATS
/// name pass through (their text is already specific, and shows no password).
pysyncq::Queue attach_queue(const std::string &name, const pysyncq::NatsAccess &access);

/// The help of a NAME argument that may be a shared-memory or a NATS queue.
inline constexpr const char *kQueueNameHelp =
    "Queue name: NAME in /dev/shm, or nats://[USER:PASSWORD@]host[:port]/NAME (or tls://...)";
/// Adds --token, --creds, --tls, --tls-ca, --tls-cert and --tls-key, filling `access`:
/// how to log in to a NATS server and use TLS.
void add_nats_access(CLI::App &app, pysyncq::NatsAccess &access);

// --- text ---

/// `text` for a terminal, one line: valid UTF-8 is kept, a byte that is not part of
/// valid UTF-8 becomes \xNN, and \ \n \r \t and other control characters are escaped
/// (\\ \n \r \t \xNN), so every message is exactly one line and no bytes are lost.
std::string escape_text(std::string_view text);
/// `text` as a JSON string literal (with quotes). Valid UTF-8 is kept; bytes that are
/// not valid UTF-8 become U+FFFD, since JSON strings cannot carry raw bytes.
std::string json_string(std::string_view text);
/// A queue snapshot as one JSON object (docs/cli.md lists the keys); `member_list`
/// adds the per-member array that `stat` shows and `ls` leaves out.
std::string stats_json(const pysyncq::Stats &stats, bool member_list);
/// "none", "message" or "space": what a member is blocked on.
std::string waiting_name(pysyncq::MemberStats::Waiting waiting);
/// `text` broken into lines of at most `width` columns at spaces (for --help footers,
/// which CLI11 prints as they are).
std::string wrap(std::string_view text, std::size_t width = 78);
/// Columns a terminal gives `text` (code points; escapes are ASCII).
std::size_t display_width(std::string_view text);

/// Left- or right-aligned columns separated by two spaces, a header row first.
class Table {
public:
  enum class Align { kLeft, kRight };
  Table(std::vector<std::string> header, std::vector<Align> align);
  void add(std::vector<std::string> row);
  std::string render() const;

private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<Align> align_;
};

/// Writes all of `bytes` to stdout (fd 1) now, unbuffered. Throws BrokenPipe on EPIPE,
/// Failure on other errors. Retries EINTR unless `interruptible` and a stop was asked.
void write_stdout(std::string_view bytes, bool interruptible = false);

// --- stopping on Ctrl-C ---

/// Installs handlers for SIGINT and SIGTERM that ask blocking waits to stop (see
/// stop_requested()). Without SA_RESTART, so a futex sleep returns EINTR and the queue
/// runs its interrupt hook.
void install_stop_handlers();
/// True once SIGINT or SIGTERM arrived.
bool stop_requested() noexcept;
/// An interrupt hook for Queue::set_interrupt_hook: throws pysyncq::Interrupted once a
/// stop was asked.
void throw_if_stop_requested();

// --- argument values ---

/// "4096", "64K", "1M", "2G" (powers of 1024; "KiB"/"MiB"/"GiB" too) to bytes.
std::uint64_t parse_size(const std::string &text);
/// Octal permission bits ("0660", "660") up to 0777.
unsigned parse_mode(const std::string &text);

/// Members whose process is alive, other than pid `except`.
std::vector<int> live_member_pids(const pysyncq::Stats &stats, int except = 0);
/// "1 member" / "2 members".
std::string count_of(std::uint64_t count, const std::string &singular);

} // namespace syncq
