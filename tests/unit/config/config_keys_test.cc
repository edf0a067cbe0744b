// config_keys_test.cc: the routes.yaml key table: its defaults are valid values and are what a
// loaded file gets, and README "routes.yaml" shows every key with its default and no other key.
#include "config/config_keys.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_loader.h"

namespace switchyard {
namespace {

TEST(ConfigKeysTest, EveryDefaultIsAValidValueOfItsKey) {
  for (const KeySpec& k : config_keys()) {
    if (!k.has_default) continue;
    KeyValue value;
    std::string error;
    EXPECT_TRUE(parse_key_text(k, k.default_text, &value, &error)) << k.path << ": " << error;
  }
}

TEST(ConfigKeysTest, EveryMapIsDeclaredBeforeItsKeysAndPathsAreUnique) {
  std::vector<std::string> seen;
  for (const KeySpec& k : config_keys()) {
    const size_t dot = k.path.rfind('.');
    if (dot != std::string::npos) {
      const KeySpec* parent = find_config_key(k.path.substr(0, dot));
      ASSERT_NE(parent, nullptr) << k.path << " has no map declared above it";
      EXPECT_EQ(parent->type, KeyType::kMap) << k.path;
    }
    for (const std::string& s : seen) EXPECT_NE(s, k.path) << "declared twice";
    seen.push_back(k.path);
    EXPECT_FALSE(k.doc.empty()) << k.path << " has no doc line";
  }
}

// A loaded file that writes no optional key holds exactly the table's defaults.
TEST(ConfigKeysTest, AnEmptySourceGetsTheTablesDefaults) {
  Config c;
  ASSERT_TRUE(
      load_config_from_string("version: 1\nsources: {a: {}}\n", "routes.yaml", "/etc", &c).is_ok());
  const SourceConfig& s = c.sources.at(0);
  auto text = [](const char* path) { return find_config_key(path)->default_text; };
  EXPECT_EQ(std::to_string(s.batch), text("sources.*.batch"));
  EXPECT_EQ(std::to_string(s.workers), text("sources.*.workers"));
  EXPECT_EQ(std::to_string(s.dead_letter_max), text("sources.*.dead_letter_max"));
  EXPECT_EQ(to_string(s.type), text("sources.*.type"));
  EXPECT_EQ(to_string(s.format), text("sources.*.format"));
  EXPECT_EQ(to_string(s.delivery), text("sources.*.delivery"));
  EXPECT_EQ(s.group, text("sources.*.group"));
  EXPECT_EQ(s.start, text("sources.*.start"));
  EXPECT_EQ(to_string(c.unrouted), text("unrouted"));
  EXPECT_EQ(c.redis.url, text("redis.url"));
  EXPECT_EQ(c.logging.level, text("logging.level"));
  EXPECT_EQ(std::to_string(c.limits.max_message_bytes), text("limits.max_message_bytes"));
}

// The first ```yaml block after "## routes.yaml" in README.md.
std::string readme_format_block() {
  std::ifstream in(std::string(SWITCHYARD_SOURCE_DIR) + "/README.md");
  std::string line, block;
  bool in_section = false, in_block = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## routes.yaml";
    if (!in_section) continue;
    if (in_block && line == "```") return block;
    if (in_block) block += line + "\n";
    if (line == "```yaml") in_block = true;
  }
  return block;
}

// Records, per table path ("sources.*.batch"), the scalar values the README writes for it.
void collect(const YAML::Node& map, const std::string& pattern,
             std::map<std::string, std::vector<std::string>>* seen) {
  const bool names = find_config_key(pattern.empty() ? "*" : pattern + ".*") != nullptr;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = names ? "*" : it->first.Scalar();
    const std::string path = pattern.empty() ? key : pattern + "." + key;
    const YAML::Node value = it->second;
    (*seen)[path].push_back(value.IsScalar() ? value.Scalar() : "");
    // Maps whose keys the table declares are walked; opaque ones (handlers.*.config) are not.
    if (value.IsMap() && !config_keys_under(path).empty()) collect(value, path, seen);
  }
}

TEST(ConfigKeysTest, ReadmeFormatSectionShowsEveryKeyWithItsDefault) {
  const std::string block = readme_format_block();
  ASSERT_FALSE(block.empty()) << "README.md has no ```yaml block under \"## routes.yaml\"";
  std::map<std::string, std::vector<std::string>> seen;
  collect(YAML::Load(block), "", &seen);
  for (const auto& [path, values] : seen)
    EXPECT_NE(find_config_key(path), nullptr)
        << "README \"routes.yaml\" shows " << path << ", which the key table does not declare";
  for (const KeySpec& k : config_keys()) {
    auto it = seen.find(k.path);
    if (it == seen.end()) {
      ADD_FAILURE() << "README \"routes.yaml\" does not show " << k.path
                    << (k.has_default ? " (default " + k.default_text + ")" : "");
      continue;
    }
    if (!k.has_default) continue;
    bool shown = false;
    for (const std::string& v : it->second) shown = shown || v == k.default_text;
    EXPECT_TRUE(shown) << "README \"routes.yaml\" never shows " << k.path << " with its default "
                       << k.default_text;
  }
}

}  // namespace
}  // namespace switchyard
