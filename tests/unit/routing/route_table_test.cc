// route_table_test.cc: RouteTable matching (exact, glob, catch-all, union) and fnmatch agreement.
#include "routing/route_table.h"

#include <fnmatch.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support/allocation_counter.h"

namespace switchyard {
namespace {

using Handlers = std::vector<int>;
using Routes = std::vector<RouteTable::Route>;

Handlers match(const RouteTable& table, std::string_view event) {
  Handlers out = {99, 98};  // a dirty caller buffer: match() must clear it
  table.match(event, &out);
  return out;
}

// Whether the single pattern matches name, through a one-route table.
bool matches(const std::string& pattern, std::string_view name) {
  RouteTable table(Routes{{pattern, {0}}});
  return !match(table, name).empty();
}

TEST(RouteTableTest, EmptyTableMatchesNothing) {
  RouteTable table;
  EXPECT_EQ(match(table, "quote.created"), Handlers{});
  EXPECT_TRUE(table.routes().empty());
}

TEST(RouteTableTest, ExactKeys) {
  RouteTable table(Routes{{"user.registered", {0}}, {"quote.created", {1}}});
  EXPECT_EQ(match(table, "user.registered"), Handlers{0});
  EXPECT_EQ(match(table, "quote.created"), Handlers{1});
  EXPECT_EQ(match(table, "quote.created.v2"), Handlers{});
  EXPECT_EQ(match(table, "quote"), Handlers{});
  EXPECT_EQ(match(table, "Quote.Created"), Handlers{});  // case-sensitive
}

TEST(RouteTableTest, NoMatchClearsTheBuffer) {
  RouteTable table(Routes{{"a", {0}}, {"b*", {1}}});
  EXPECT_EQ(match(table, "zzz"), Handlers{});
}

TEST(RouteTableTest, EventNeedNotBeNulTerminated) {
  RouteTable table(Routes{{"quote.created", {0}}, {"quote.*", {1}}});
  const std::string buffer = "quote.createdXYZ";
  EXPECT_EQ(match(table, std::string_view(buffer).substr(0, 13)), (Handlers{0, 1}));
  EXPECT_EQ(match(table, std::string_view(buffer).substr(0, 8)), Handlers{1});  // "quote.cr"
}

TEST(RouteTableTest, PrefixGlob) {
  RouteTable table(Routes{{"quote.*", {3}}});
  EXPECT_EQ(match(table, "quote.created"), Handlers{3});
  EXPECT_EQ(match(table, "quote."), Handlers{3});
  EXPECT_EQ(match(table, "quote.line.added"), Handlers{3});  // '*' matches dots
  EXPECT_EQ(match(table, "quote"), Handlers{});
  EXPECT_EQ(match(table, "quotes.created"), Handlers{});
  EXPECT_EQ(match(table, "xquote.created"), Handlers{});
}

TEST(RouteTableTest, SuffixGlob) {
  RouteTable table(Routes{{"*.created", {2}}});
  EXPECT_EQ(match(table, "quote.created"), Handlers{2});
  EXPECT_EQ(match(table, "a.b.created"), Handlers{2});
  EXPECT_EQ(match(table, ".created"), Handlers{2});
  EXPECT_EQ(match(table, "created"), Handlers{});
  EXPECT_EQ(match(table, "quote.created.v2"), Handlers{});
}

TEST(RouteTableTest, QuestionMarkIsOneCharacter) {
  RouteTable table(Routes{{"?", {0}}, {"v?.x", {1}}});
  EXPECT_EQ(match(table, "a"), Handlers{0});
  EXPECT_EQ(match(table, "."), Handlers{0});
  EXPECT_EQ(match(table, "\xC3\xA9"), Handlers{0});          // "é": one character, two bytes
  EXPECT_EQ(match(table, "\xF0\x9F\x98\x80"), Handlers{0});  // one character, four bytes
  EXPECT_EQ(match(table, "ab"), Handlers{});
  EXPECT_EQ(match(table, ""), Handlers{});
  EXPECT_EQ(match(table, "v2.x"), Handlers{1});
  EXPECT_EQ(match(table, "v10.x"), Handlers{});
}

TEST(RouteTableTest, CatchAll) {
  RouteTable table(Routes{{"*", {5}}});
  EXPECT_EQ(match(table, "quote.created"), Handlers{5});
  EXPECT_EQ(match(table, "x"), Handlers{5});
  EXPECT_EQ(match(table, "a.b.c.d"), Handlers{5});
}

TEST(RouteTableTest, UnionOfExactGlobAndCatchAll) {
  RouteTable table(Routes{{"quote.created", {4}},
                          {"quote.*", {2}},
                          {"*.created", {3}},
                          {"*", {0}},
                          {"user.registered", {1}}});
  EXPECT_EQ(match(table, "quote.created"), (Handlers{0, 2, 3, 4}));
  EXPECT_EQ(match(table, "quote.updated"), (Handlers{0, 2}));
  EXPECT_EQ(match(table, "order.created"), (Handlers{0, 3}));
  EXPECT_EQ(match(table, "user.registered"), (Handlers{0, 1}));
  EXPECT_EQ(match(table, "anything"), Handlers{0});
}

TEST(RouteTableTest, UnionIsDeduplicatedAndAscending) {
  RouteTable table(Routes{
      {"quote.created", {7, 3, 3}}, {"quote.*", {5, 3, 1}}, {"*.created", {7, 1}}, {"*", {9, 1}}});
  EXPECT_EQ(match(table, "quote.created"), (Handlers{1, 3, 5, 7, 9}));
  EXPECT_EQ(match(table, "quote.x"), (Handlers{1, 3, 5, 9}));
  EXPECT_EQ(match(table, "a.created"), (Handlers{1, 7, 9}));
  EXPECT_EQ(match(table, "zzz"), (Handlers{1, 9}));
}

TEST(RouteTableTest, SingleGlobHandlersAreSortedToo) {
  RouteTable table(Routes{{"a.*", {4, 2, 4, 0}}});
  EXPECT_EQ(match(table, "a.b"), (Handlers{0, 2, 4}));
}

TEST(RouteTableTest, RepeatedPatternsMerge) {
  RouteTable table(
      Routes{{"a", {2}}, {"a", {1, 2}}, {"b*", {4}}, {"b*", {3}}, {"*", {6}}, {"**", {5}}});
  EXPECT_EQ(match(table, "a"), (Handlers{1, 2, 5, 6}));
  EXPECT_EQ(match(table, "bb"), (Handlers{3, 4, 5, 6}));
}

TEST(RouteTableTest, RoutesAreKeptAsGiven) {
  Routes routes = {{"b", {1, 1}}, {"a.*", {0}}, {"*", {2}}};
  RouteTable table(routes);
  ASSERT_EQ(table.routes().size(), 3u);
  EXPECT_EQ(table.routes()[0].pattern, "b");
  EXPECT_EQ(table.routes()[0].handlers, (Handlers{1, 1}));
  EXPECT_EQ(table.routes()[1].pattern, "a.*");
  EXPECT_EQ(table.routes()[2].pattern, "*");
}

TEST(RouteTableTest, BracketExpressions) {
  EXPECT_TRUE(matches("user.[a-c]*", "user.banned"));
  EXPECT_FALSE(matches("user.[a-c]*", "user.deleted"));
  EXPECT_TRUE(matches("[!q]*", "user.x"));
  EXPECT_FALSE(matches("[!q]*", "quote.x"));
  EXPECT_TRUE(matches("[^q]*", "user.x"));
  EXPECT_TRUE(matches("v[[:digit:]].*", "v2.created"));
  EXPECT_FALSE(matches("v[[:digit:]].*", "vx.created"));
  EXPECT_TRUE(matches("[]]", "]"));
  EXPECT_TRUE(matches("[a-]", "-"));
  EXPECT_FALSE(matches("[[:nosuchclass:]]", "a"));
  EXPECT_TRUE(matches("caf[\xC3\xA8-\xC3\xAA]", "caf\xC3\xA9"));  // ranges compare code points
}

TEST(RouteTableTest, EscapesAndUnterminatedBrackets) {
  EXPECT_TRUE(matches("a\\*b", "a*b"));
  EXPECT_FALSE(matches("a\\*b", "axb"));
  EXPECT_TRUE(matches("a\\.b", "a.b"));  // a quoted ordinary character is itself
  EXPECT_FALSE(matches("a\\", "a"));     // a dangling '\' matches nothing
  EXPECT_FALSE(matches("a\\", "a\\"));
  EXPECT_TRUE(matches("[abc", "[abc"));  // no closing ']': an ordinary '['
  EXPECT_FALSE(matches("[abc", "a"));
  EXPECT_TRUE(matches("x[a", "x[a"));
  EXPECT_FALSE(matches("[a-", "[a-"));  // as glibc: a range running off the end fails
}

TEST(RouteTableTest, LiteralPrefixAndSuffixRespectUtf8) {
  EXPECT_TRUE(matches("caf\xC3\xA9.*", "caf\xC3\xA9.x"));
  EXPECT_FALSE(matches("caf\xC3\xA9.*", "cafe.x"));
  EXPECT_TRUE(matches("*.\xE2\x82\xAC", "price.\xE2\x82\xAC"));
  EXPECT_TRUE(matches("a*b*c", "abc"));
  EXPECT_FALSE(matches("ab*bc", "abc"));  // prefix and suffix may not overlap
  // A stray byte is a character of its own: "\xC3" never matches the start of "\xC3\xA9" ("é").
  EXPECT_TRUE(matches("\xC3*", "\xC3x"));
  EXPECT_FALSE(matches("\xC3*", "\xC3\xA9"));
  EXPECT_TRUE(matches("*\xA9", "x\xA9"));
  EXPECT_FALSE(matches("*\xA9", "\xC3\xA9"));
}

TEST(RouteTableTest, ExactKeyAlsoMatchingAGlobWithMetacharacters) {
  // "a[b" is a glob (it holds '['); an exact "a[b" entry does not exist, yet the glob matches.
  RouteTable table(Routes{{"a[b", {0}}, {"a?b", {1}}});
  EXPECT_EQ(match(table, "a[b"), (Handlers{0, 1}));
  EXPECT_EQ(match(table, "axb"), Handlers{1});
}

TEST(RouteTableTest, PathologicalGlobIsFast) {
  RouteTable table(Routes{{"*a*a*a*a*a*a*a*a*a*a*b", {0}}});
  EXPECT_EQ(match(table, std::string(5000, 'a')), Handlers{});
  EXPECT_EQ(match(table, std::string(5000, 'a') + "b"), Handlers{0});
}

// Our matcher agrees with glibc's fnmatch(pattern, name, 0) on ASCII (this process runs in the
// C locale), on random patterns built from every metacharacter, malformed ones included: names
// are random, the pattern itself (an unterminated '[' is literal) or the pattern with one change.
TEST(RouteTableTest, AgreesWithFnmatch) {
  std::mt19937 rng(20260507);
  const std::string pattern_chars = "ab.*?[]!^-\\:=";
  const std::string name_chars = "ab.-[]!^\\:*?=";
  const std::vector<std::string> pieces = {"[[:alpha:]]", "[[:", "[[.a.]", "[[=a=]", "[!", "]"};
  auto pick = [&rng](size_t size) {
    return std::uniform_int_distribution<size_t>(0, size - 1)(rng);
  };
  auto random_string = [&](const std::string& alphabet, int max_len) {
    std::string s(std::uniform_int_distribution<int>(0, max_len)(rng), ' ');
    for (char& c : s) c = alphabet[pick(alphabet.size())];
    return s;
  };
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string pattern = random_string(pattern_chars, 10);
    if (i % 4 == 0) pattern.insert(pick(pattern.size() + 1), pieces[pick(pieces.size())]);
    if (pattern.empty()) continue;
    RouteTable table(Routes{{pattern, {0}}});
    for (int j = 0; j < 10; ++j) {
      std::string name = random_string(name_chars, 8);
      if (j == 0) name = pattern;
      if (j == 1) (name = pattern)[pick(pattern.size())] = name_chars[pick(name_chars.size())];
      const bool expected = fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
      Handlers got;
      table.match(name, &got);
      ASSERT_EQ(!got.empty(), expected) << "pattern \"" << pattern << "\" name \"" << name << "\"";
      ++checked;
    }
  }
  EXPECT_GT(checked, 150000);
}

TEST(RouteTableTest, SteadyStateMatchDoesNotAllocate) {
  RouteTable table(
      Routes{{"quote.created", {1}}, {"quote.*", {0}}, {"*.created", {2}}, {"*", {3}}});
  Handlers out;
  out.reserve(16);
  const std::string exact = "quote.created";
  const std::string globbed = "order.created";
  test::AllocationCounter allocations;
  for (int i = 0; i < 1000; ++i) {
    table.match(exact, &out);
    table.match(globbed, &out);
    table.match("nothing", &out);
  }
  EXPECT_EQ(allocations.stop(), 0);
  EXPECT_EQ(out, Handlers{3});
}

}  // namespace
}  // namespace switchyard
