// Text for a terminal: escaping what comes from outside (queue names, senders, message
// fields, library and server error messages), widths, wrapping, aligned tables, and
// writing to stdout. Any of that text may hold bytes chosen by another user, so nothing
// from outside reaches the terminal unescaped (docs/failures.md, "A hostile local user").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace syncq {

/// Walks `text` as UTF-8 (RFC 3629: overlong forms, surrogates and code points past
/// U+10FFFF are invalid): `valid(code_point, bytes)` for each well-formed sequence,
/// `invalid(byte)` for each byte that does not start one. The one decoding loop behind
/// escape_text() and json_string().
void for_each_code_point(std::string_view text,
                         const std::function<void(char32_t, std::string_view)> &valid,
                         const std::function<void(unsigned char)> &invalid);

/// Whether a terminal acts on `code_point` instead of showing it: C0 controls and DEL,
/// C1 controls U+0080..U+009F (U+009B is a CSI on xterm), and the bidi overrides and
/// isolates U+202A..U+202E, U+2066..U+2069 (which show what follows in another order).
bool is_terminal_control(char32_t code_point) noexcept;
/// The backslash escape of \\ \n \r \t ("\\\\", "\\n", ...), or nullptr for any other code
/// point: the same four in escape_text() and in JSON strings.
const char *backslash_escape(char32_t code_point) noexcept;
/// `prefix`, then `value` in `digits` lower-case hex digits: hex_digits(0x1b, 2, "\\x").
std::string hex_digits(std::uint32_t value, int digits, const char *prefix);

/// `text` for a terminal, one line: valid UTF-8 is kept, a byte that is not part of
/// valid UTF-8 becomes \xNN, and \ \n \r \t and other C0 controls and DEL are escaped
/// (\\ \n \r \t \xNN). Code points a terminal acts on or that reorder what follows
/// become \uNNNN: C1 controls U+0080..U+009F (U+009B is a CSI on xterm) and the bidi
/// overrides and isolates U+202A..U+202E, U+2066..U+2069. So every text is exactly one
/// line, shown as written, and no bytes are lost.
std::string escape_text(std::string_view text);

/// Columns a terminal gives `text` (code points; escapes are ASCII).
std::size_t display_width(std::string_view text);
/// `text` broken into lines of at most `width` columns at spaces (for --help footers,
/// which CLI11 prints as they are).
std::string wrap(std::string_view text, std::size_t width = 78);

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

/// "1 member" / "2 members".
std::string count_of(std::uint64_t count, const std::string &singular);

} // namespace syncq
