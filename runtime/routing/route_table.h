// route_table.h: maps an event name to the handlers routed to it (exact, glob and "*" keys).
// Thread safety: immutable after build; share freely across threads.
#ifndef SWITCHYARD_ROUTING_ROUTE_TABLE_H_
#define SWITCHYARD_ROUTING_ROUTE_TABLE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchyard {

// fnmatch(pattern, name, 0) on UTF-8 characters, as the globs of routes: match (below): '*', '?',
// [...] classes and '\' quoting. Never allocates; O(|pattern| * |name|) time at worst. Pure.
bool glob_match(std::string_view pattern, std::string_view name);

class RouteTable {
 public:
  // One routes.yaml entry: a pattern and the handler indexes it routes to. Patterns: an exact
  // name, or a glob with '*' (any run of characters, including none and dots), '?' (one
  // character) and [...] classes as in fnmatch(3) without flags; "*" alone is the catch-all.
  // A pattern with none of * ? [ \ is exact. A character is one UTF-8 code point (bytes that are
  // not UTF-8 count one each); [...] ranges compare code points; '\' quotes the next character;
  // a '[' with no closing ']' is an ordinary character. Glob matching never allocates.
  struct Route {
    std::string pattern;
    std::vector<int> handlers;
  };

  RouteTable() = default;
  explicit RouteTable(std::vector<Route> routes);

  // Sets *handlers to the union of the handlers of every pattern matching event, each once, in
  // ascending index order; empty when nothing matches. *handlers is a caller-owned buffer,
  // cleared first, so a caller can reuse it without allocating per message.
  void match(std::string_view event, std::vector<int>* handlers) const;

  // The routes as given (for `switchyard check` to print).
  const std::vector<Route>& routes() const { return routes_; }

 private:
  // Lets exact_ be searched with a std::string_view, without building a std::string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  std::vector<Route> routes_;
  // Exact keys, each with the final answer for that name: its own handlers, the catch-all's and
  // those of every glob matching it (sorted, unique). An exact hit needs nothing else.
  std::unordered_map<std::string, std::vector<int>, StringHash, std::equal_to<>> exact_;

  // A glob other than a catch-all, split for quick tests: `prefix` and `suffix` are literal text
  // the name must start and end with; `middle` is the rest of the pattern, for what is between.
  struct Glob {
    std::string prefix;
    std::string middle;
    std::string suffix;
    bool middle_is_star = false;  // then the prefix and suffix tests decide
    std::vector<int> handlers;    // sorted, unique
    bool matches(std::string_view name) const;
  };
  std::vector<Glob> globs_;
  std::vector<int> always_;  // handlers of catch-alls ("*", "**", ...), sorted and unique
};

}  // namespace switchyard

#endif  // SWITCHYARD_ROUTING_ROUTE_TABLE_H_
