// top_command.cc: `switchyard top`: a full-screen live view of every source (backlog, age, rates,
// drain ETA) and handler (rates, errors, p50/p99), with keys to sort and quit; one plain-text
// frame when stdout is not a terminal.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "console/behind_view.h"
#include "redis/redis_connection.h"
#include "source/queue_depth.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// The sort keys, in the order `s` cycles through them.
const std::vector<std::string> kSortKeys = {"name", "backlog", "age", "rate", "errors", "p99"};

struct Row {
  std::string name;
  QueueDepth depth;
  bool depth_known = false;
  SourceBehindView behind;
};

std::string fixed(double v, int precision = 1) {
  if (!std::isfinite(v)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", precision, v);
  return buffer;
}

// The first `width` characters of text (UTF-8 code points; never a split one), and their count.
std::string cut(const std::string& text, size_t width, size_t* shown) {
  size_t bytes = 0, chars = 0;
  while (bytes < text.size() && chars < width) {
    ++bytes;
    while (bytes < text.size() && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) ++bytes;
    ++chars;
  }
  *shown = chars;
  return text.substr(0, bytes);
}

// A cell padded to width characters (left-aligned when left, else right-aligned), cut when
// longer.
std::string cell(const std::string& text, size_t width, bool left = false) {
  size_t shown = 0;
  std::string t = cut(text, width, &shown);
  std::string pad(width - shown, ' ');
  return left ? t + pad : pad + t;
}

// The width of the name column: the longest name shown (at least the title's, at most 32), so
// that a narrow terminal still shows the first figures.
size_t name_width(const std::vector<std::string>& names, size_t title) {
  size_t width = title + 1;
  for (const std::string& n : names) {
    size_t shown = 0;
    cut(n, 32, &shown);
    width = std::max(width, shown + 2);
  }
  return std::min<size_t>(width, 34);
}

// One frame of the view; the caller adds the screen control codes.
std::string render(const Config& config, RedisConnection& connection, const std::string& only,
                   const std::string& sort, const std::string& header) {
  std::ostringstream out;
  out << header << "\n\n";
  if (!connection.connected()) connection.connect();
  std::vector<Row> rows;
  std::map<std::string, SourceBehindView> behind;
  std::vector<HandlerView> handlers;
  Status s = read_behind(connection, config, &behind, &handlers);
  for (const SourceConfig& source : config.sources) {
    if (!only.empty() && source.name != only) continue;
    Row row;
    row.name = source.name;
    row.depth_known = s && read_queue_depth(connection, source, &row.depth);
    row.behind = behind[source.name];
    rows.push_back(row);
  }
  if (!s) out << "Redis: " << printable(s.message()) << "\n\n";
  auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
  std::stable_sort(rows.begin(), rows.end(), by_name);
  if (sort == "backlog")
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.depth.pending > b.depth.pending; });
  if (sort == "age")
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.behind.oldest_age_seconds > b.behind.oldest_age_seconds;
    });
  if (sort == "rate")
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.behind.out_1m > b.behind.out_1m; });
  std::stable_sort(handlers.begin(), handlers.end(), by_name);
  if (sort == "rate")
    std::stable_sort(handlers.begin(), handlers.end(),
                     [](const HandlerView& a, const HandlerView& b) {
                       return a.rate("ok") + a.error_rate() > b.rate("ok") + b.error_rate();
                     });
  if (sort == "errors")
    std::stable_sort(
        handlers.begin(), handlers.end(),
        [](const HandlerView& a, const HandlerView& b) { return a.error_rate() > b.error_rate(); });
  if (sort == "p99")
    std::stable_sort(handlers.begin(), handlers.end(),
                     [](const HandlerView& a, const HandlerView& b) {
                       double x = std::isnan(a.p99_seconds) ? -1 : a.p99_seconds;
                       double y = std::isnan(b.p99_seconds) ? -1 : b.p99_seconds;
                       return x > y;
                     });
  std::vector<std::string> names;
  for (const Row& r : rows) names.push_back(printable(r.name));
  for (const HandlerView& h : handlers) names.push_back(printable(h.name));
  const size_t w = name_width(names, 7);
  out << cell("SOURCE", w, true) << cell("PENDING", 10) << cell("INFLIGHT", 10) << cell("RETRY", 8)
      << cell("DEAD", 8) << cell("IN/s", 10) << cell("OUT/s", 10) << cell("OLDEST", 10)
      << cell("ETA", 10) << "\n";
  for (const Row& r : rows) {
    const bool d = r.depth_known, b = r.behind.reported;
    out << cell(printable(r.name), w, true) << cell(d ? std::to_string(r.depth.pending) : "-", 10)
        << cell(d ? std::to_string(r.depth.inflight) : "-", 10)
        << cell(d ? std::to_string(r.depth.retry) : "-", 8)
        << cell(d ? std::to_string(r.depth.dead) : "-", 8)
        << cell(b ? fixed(r.behind.in_1m) : "-", 10) << cell(b ? fixed(r.behind.out_1m) : "-", 10)
        << cell(b ? human_seconds(r.behind.oldest_age_seconds) : "-", 10)
        << cell(b ? human_seconds(r.behind.drain_eta_seconds) : "-", 10) << "\n";
  }
  out << "\n"
      << cell("HANDLER", w, true) << cell("OK/s", 10) << cell("ERR/s", 10) << cell("RETRY/s", 10)
      << cell("P50", 10) << cell("P99", 10) << cell("CALLS/1m", 10) << "\n";
  for (const HandlerView& h : handlers)
    out << cell(printable(h.name), w, true) << cell(fixed(h.rate("ok")), 10)
        << cell(fixed(h.rate("reject") + h.rate("dead_letter")), 10)
        << cell(fixed(h.rate("retry")), 10) << cell(human_latency(h.p50_seconds), 10)
        << cell(human_latency(h.p99_seconds), 10) << cell(std::to_string(h.calls), 10) << "\n";
  if (handlers.empty()) out << "(no running instance reported handler figures)\n";
  return out.str();
}

// Puts the terminal into non-canonical, no-echo mode and the alternate screen; restores both.
class RawTerminal {
 public:
  RawTerminal() {
    stdin_tty_ = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0;
    if (stdin_tty_) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;
  }
  ~RawTerminal() {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    if (stdin_tty_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  bool stdin_tty_ = false;
  termios saved_{};
};

// The first `rows` lines of `frame`, each cut to `columns` characters: a line wider than the
// terminal would wrap, and a line break after the last row would scroll the header away.
std::string fit(const std::string& frame, int rows, int columns) {
  std::istringstream in(frame);
  std::string line, out;
  for (int n = 0; std::getline(in, line) && (rows <= 0 || n < rows); ++n) {
    size_t shown = 0;
    if (columns > 0) line = cut(line, static_cast<size_t>(columns), &shown);
    out += (n ? "\r\n" : "") + line + "\x1b[K";
  }
  return out;
}

}  // namespace

int top_command(const CommonOptions& common, const TopOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const std::string& sort = options.sort;
  auto at = std::find(kSortKeys.begin(), kSortKeys.end(), sort);
  if (at == kSortKeys.end()) {
    std::cerr << "switchyard: --sort " << printable(sort)
              << ": not a sort key (name, backlog, age, rate, errors, p99)\n";
    return 2;
  }
  RedisConnection connection(loaded.endpoint, "switchyard:top");
  Status s = connection.connect();
  if (!isatty(STDOUT_FILENO)) {
    // Not a terminal: one frame as plain text, for pipes, logs and scripts.
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    std::cout << render(*loaded.config, connection, options.source, sort,
                        "switchyard top  " + loaded.endpoint.redacted() + "  sort: " + sort);
    return 0;
  }
  size_t sort_index = static_cast<size_t>(at - kSortKeys.begin());
  const double interval = options.interval > 0.1 ? options.interval : 1.0;
  RawTerminal terminal;
  const bool keys = isatty(STDIN_FILENO);
  while (true) {
    winsize size{};
    ioctl(STDOUT_FILENO, TIOCGWINSZ, &size);
    const std::string header = "switchyard top  " + loaded.endpoint.redacted() + "  every " +
                               fixed(interval) + "s  sort: " + kSortKeys[sort_index] +
                               "  (s: next sort, q: quit)";
    std::cout << "\x1b[H"
              << fit(render(*loaded.config, connection, options.source, kSortKeys[sort_index],
                            header),
                     size.ws_row, size.ws_col)
              << "\x1b[J" << std::flush;
    // Wait for a key or the next refresh.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval);
    bool redraw = false;
    while (!redraw) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      // Keys come from a terminal only: with stdin redirected (</dev/null), just refresh.
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      if (poll(&fd, keys ? 1 : 0, static_cast<int>(left.count())) <= 0) continue;
      char key = 0;
      if (read(STDIN_FILENO, &key, 1) != 1) return 0;  // stdin closed
      if (key == 'q' || key == 'Q' || key == 3 /* Ctrl-C */) return 0;
      if (key == 's') sort_index = (sort_index + 1) % kSortKeys.size();
      if (key == 'S') sort_index = (sort_index + kSortKeys.size() - 1) % kSortKeys.size();
      redraw = key == 's' || key == 'S';
    }
  }
}

}  // namespace switchyard
