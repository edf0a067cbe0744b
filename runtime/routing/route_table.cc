// route_table.cc: builds the exact-key map and glob list, and answers which handlers get an event.
#include "routing/route_table.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "util/utf8.h"

namespace switchyard {
namespace {

constexpr char32_t kNotUtf8 = 0x110000;  // + byte: a byte that does not start a UTF-8 character

// Decodes the character at s[*i] and advances *i past it. A byte that does not begin a
// well-formed UTF-8 sequence is one character of its own, distinct from every code point.
char32_t next_char(std::string_view s, size_t* i) {
  const size_t length = utf8_sequence_length(s.data() + *i, s.size() - *i);
  if (length == 0) return kNotUtf8 + static_cast<unsigned char>(s[(*i)++]);
  const char32_t c = utf8_code_point(s.data() + *i, length);
  *i += length;
  return c;
}

// A POSIX class name inside a bracket ("alpha" in "[[:alpha:]]"), tested in the C locale.
// Returns -1 for an unknown name, else whether c belongs to it.
int in_class(std::string_view name, char32_t c) {
  const int ch = c < 0x80 ? static_cast<int>(c) : -1;  // only ASCII is classified
  bool in = false;
  if (name == "alnum") {
    in = ch >= 0 && std::isalnum(ch);
  } else if (name == "alpha") {
    in = ch >= 0 && std::isalpha(ch);
  } else if (name == "blank") {
    in = ch >= 0 && std::isblank(ch);
  } else if (name == "cntrl") {
    in = ch >= 0 && std::iscntrl(ch);
  } else if (name == "digit") {
    in = ch >= 0 && std::isdigit(ch);
  } else if (name == "graph") {
    in = ch >= 0 && std::isgraph(ch);
  } else if (name == "lower") {
    in = ch >= 0 && std::islower(ch);
  } else if (name == "print") {
    in = ch >= 0 && std::isprint(ch);
  } else if (name == "punct") {
    in = ch >= 0 && std::ispunct(ch);
  } else if (name == "space") {
    in = ch >= 0 && std::isspace(ch);
  } else if (name == "upper") {
    in = ch >= 0 && std::isupper(ch);
  } else if (name == "xdigit") {
    in = ch >= 0 && std::isxdigit(ch);
  } else {
    return -1;
  }
  return in ? 1 : 0;
}

enum class Bracket { kMatch, kNoMatch, kUnterminated };

enum class Member { kChar, kSymbol, kFail };

// Reads one character of a bracket expression at pattern[*i] and advances *i past it: an ordinary
// character, a '\'-quoted one, or a collating symbol "[.c.]" (one character: the C locale has no
// named ones). kFail: a dangling '\' or a bad collating symbol, which fnmatch(3) never matches.
Member read_member(std::string_view pattern, size_t* i, char32_t* c) {
  const size_t n = pattern.size();
  if (pattern[*i] == '\\') {
    if (++*i >= n) return Member::kFail;
  } else if (pattern[*i] == '[' && *i + 1 < n && pattern[*i + 1] == '.') {
    const size_t close = pattern.find(".]", *i + 2);
    if (close == std::string_view::npos || close == *i + 2) return Member::kFail;
    size_t k = *i + 2;
    *c = next_char(pattern, &k);
    if (k != close) return Member::kFail;
    *i = close + 2;
    return Member::kSymbol;
  }
  *c = next_char(pattern, i);
  return Member::kChar;
}

// After a member matched, moves *i past the closing ']' as glibc does. kUnterminated: no ']'
// (glibc 2.36 then takes the '[' literally, as when no member matched); kNoMatch where glibc
// gives up instead (a dangling '\', a malformed "[=" or an unterminated "[.").
Bracket skip_bracket_rest(std::string_view pattern, size_t* i) {
  const size_t n = pattern.size();
  size_t k = *i;
  for (;;) {
    if (k >= n) return Bracket::kUnterminated;
    const char ch = pattern[k++];
    if (ch == ']') break;
    if (ch == '\\') {
      if (k >= n) return Bracket::kNoMatch;
      ++k;
    } else if (ch == '[' && k < n && pattern[k] == ':') {
      const size_t colon = k;
      for (size_t q = colon + 1;; ++q) {
        const char cc = q < n ? pattern[q] : '\0';
        if (cc == ':' && q + 1 < n && pattern[q + 1] == ']') {
          k = q + 2;
          break;
        }
        if (cc < 'a' || cc >= 'z') {
          k = colon;  // not a class name: carry on after the '['
          break;
        }
      }
    } else if (ch == '[' && k < n && pattern[k] == '=') {
      size_t q = k + 1;
      if (q >= n) return Bracket::kNoMatch;
      next_char(pattern, &q);
      if (q + 1 >= n || pattern[q] != '=' || pattern[q + 1] != ']') return Bracket::kNoMatch;
      k = q + 2;
    } else if (ch == '[' && k < n && pattern[k] == '.') {
      const size_t close = pattern.find(".]", k + 1);
      if (close == std::string_view::npos) return Bracket::kNoMatch;
      k = close + 2;
    }
  }
  *i = k;
  return Bracket::kMatch;
}

// Matches c against the bracket expression whose '[' is at pattern[*p], the way glibc's fnmatch(3)
// reads one in the C locale, down to its handling of malformed expressions; on kMatch sets *p
// past the ']'. kUnterminated: no closing ']' met before a decision (the '[' is then an ordinary
// character). kNoMatch also covers what fnmatch(3) refuses outright (an unknown [:class:]).
Bracket match_bracket(std::string_view pattern, size_t* p, char32_t c) {
  const size_t n = pattern.size();
  size_t i = *p + 1;
  bool negate = false;
  if (i < n && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  for (bool first = true; !found; first = false) {
    if (i >= n) return Bracket::kUnterminated;
    if (pattern[i] == ']' && !first) {
      *p = i + 1;
      return negate ? Bracket::kMatch : Bracket::kNoMatch;
    }
    if (pattern[i] == '[' && i + 1 < n && pattern[i + 1] == ':') {  // [:class:]
      size_t j = i + 2;
      while (j < n && pattern[j] >= 'a' && pattern[j] < 'z') ++j;  // glibc's test: a..y
      if (j + 1 < n && pattern[j] == ':' && pattern[j + 1] == ']') {
        const int in = in_class(pattern.substr(i + 2, j - (i + 2)), c);
        if (in < 0) return Bracket::kNoMatch;
        found = in > 0;
        i = j + 2;
        continue;
      }
      // Not a class name: the '[' is an ordinary member, read below.
    } else if (pattern[i] == '[' && i + 1 < n && pattern[i + 1] == '=') {  // [=c=]
      size_t k = i + 2;
      if (k < n) {
        const char32_t e = next_char(pattern, &k);
        if (k + 1 < n && pattern[k] == '=' && pattern[k + 1] == ']') {
          found = e == c;
          i = k + 2;
          continue;
        }
      }
      // Not an equivalence class: the '[' is an ordinary member, read below.
    }
    char32_t lo = 0;
    const Member member = read_member(pattern, &i, &lo);
    if (member == Member::kFail) return Bracket::kNoMatch;
    if (i < n && pattern[i] == '-') {
      if (i + 1 >= n) {  // "x-" at the very end: x is compared, else a range with no end fails
        if (lo != c) return Bracket::kNoMatch;
        found = true;
        continue;
      }
      if (pattern[i + 1] != ']') {
        ++i;
        char32_t hi = 0;
        if (read_member(pattern, &i, &hi) == Member::kFail) return Bracket::kNoMatch;
        found = lo <= c && c <= hi;
        continue;
      }
      // glibc quirk, kept for fidelity: a "[.c.]" just before "-]" is never a member itself.
      if (member == Member::kSymbol) continue;
    }
    found = lo == c;
  }
  const Bracket rest = skip_bracket_rest(pattern, &i);
  if (rest != Bracket::kMatch) return rest;
  *p = i;
  return negate ? Bracket::kNoMatch : Bracket::kMatch;
}

bool is_glob(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") != std::string_view::npos;
}

bool is_catch_all(std::string_view pattern) {
  return !pattern.empty() && pattern.find_first_not_of('*') == std::string_view::npos;
}

// Whether text is whole, well-formed UTF-8 characters (so that it matches byte for byte exactly
// where it matches character for character).
bool is_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();)
    if (next_char(text, &i) >= kNotUtf8) return false;
  return true;
}

void sort_unique(std::vector<int>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

// Without recursion: on a mismatch, the last '*' takes one more character and matching resumes
// after it. Linear space, O(|p|*|n|) worst case.
bool glob_match(std::string_view pattern, std::string_view name) {
  size_t p = 0;
  size_t n = 0;
  size_t star_p = std::string_view::npos;  // pattern position just after the last '*'
  size_t star_n = 0;                       // where that '*' run's match currently ends
  while (n < name.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_n = n;
        continue;
      }
      size_t next_n = n;
      const char32_t c = next_char(name, &next_n);
      bool ok = false;
      if (pc == '?') {
        ok = true;
        ++p;
      } else {
        const Bracket b = pc == '[' ? match_bracket(pattern, &p, c) : Bracket::kUnterminated;
        if (b == Bracket::kUnterminated) {
          size_t q = p;
          if (pattern[q] == '\\') ++q;  // quotes the next character; a dangling '\' never matches
          ok = q < pattern.size() && next_char(pattern, &q) == c;
          if (ok) p = q;
        } else {
          ok = b == Bracket::kMatch;
        }
      }
      if (ok) {
        n = next_n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    next_char(name, &star_n);
    n = star_n;
    p = star_p;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool RouteTable::Glob::matches(std::string_view name) const {
  if (name.size() < prefix.size() + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix))
    return false;
  if (middle_is_star) return true;
  return glob_match(middle,
                    name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
}

RouteTable::RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& route : routes_) {
    const std::string_view pattern = route.pattern;
    if (!is_glob(pattern)) {
      auto& handlers = exact_[route.pattern];
      handlers.insert(handlers.end(), route.handlers.begin(), route.handlers.end());
      continue;
    }
    if (is_catch_all(pattern)) {
      always_.insert(always_.end(), route.handlers.begin(), route.handlers.end());
      continue;
    }
    Glob glob;
    // The literal text before the first metacharacter must begin the name; the text after the
    // last '*', when literal, must end it ("quote.*", "*.created" and "a*b" need nothing else).
    // Kept only when whole UTF-8 characters, so that bytes and characters agree.
    std::string_view prefix = pattern.substr(0, pattern.find_first_of("*?[\\"));
    if (!is_utf8(prefix)) prefix = {};
    std::string_view middle = pattern.substr(prefix.size());
    std::string_view suffix;
    const size_t star = middle.find_last_of('*');
    if (star != std::string_view::npos && middle.find('[') == std::string_view::npos &&
        middle.find_first_of("?\\", star) == std::string_view::npos &&
        is_utf8(middle.substr(star + 1))) {
      suffix = middle.substr(star + 1);
      middle = middle.substr(0, star + 1);
    }
    glob.prefix = prefix;
    glob.middle = middle;
    glob.suffix = suffix;
    glob.middle_is_star = middle.find_first_not_of('*') == std::string_view::npos;
    glob.handlers = route.handlers;
    sort_unique(&glob.handlers);
    globs_.push_back(std::move(glob));
  }
  sort_unique(&always_);
  // An event equal to an exact key matches exactly the globs that match the key itself.
  for (auto& [name, handlers] : exact_) {
    handlers.insert(handlers.end(), always_.begin(), always_.end());
    for (const Glob& glob : globs_)
      if (glob.matches(name))
        handlers.insert(handlers.end(), glob.handlers.begin(), glob.handlers.end());
    sort_unique(&handlers);
  }
}

void RouteTable::match(std::string_view event, std::vector<int>* handlers) const {
  if (!exact_.empty()) {
    auto it = exact_.find(event);
    if (it != exact_.end()) {
      handlers->assign(it->second.begin(), it->second.end());
      return;
    }
  }
  handlers->assign(always_.begin(), always_.end());
  size_t sources = always_.empty() ? 0 : 1;
  for (const Glob& glob : globs_) {
    if (glob.matches(event)) {
      handlers->insert(handlers->end(), glob.handlers.begin(), glob.handlers.end());
      ++sources;
    }
  }
  // One source is already sorted and unique; a union of several needs merging.
  if (sources > 1) sort_unique(handlers);
}

}  // namespace switchyard
