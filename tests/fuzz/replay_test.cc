// replay_test.cc: runs every file of tests/fuzz/corpus/<target>/ and
// tests/fuzz/regressions/<target>/ through its fuzz target, with any compiler.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_target.h"

int switchyard_fuzz_envelope(const uint8_t* data, size_t size);
int switchyard_fuzz_config(const uint8_t* data, size_t size);
int switchyard_fuzz_redis_url(const uint8_t* data, size_t size);
int switchyard_fuzz_bounded_json(const uint8_t* data, size_t size);
int switchyard_fuzz_dead_letter(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Runs every input kept for target; returns how many there were.
size_t replay(const std::string& target, int (*run)(const uint8_t*, size_t)) {
  size_t count = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(SWITCHYARD_SOURCE_DIR) / "tests/fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      SCOPED_TRACE(file.string());
      std::ifstream in(file, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      const std::string input = bytes.str();
      run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
      ++count;
    }
  }
  return count;
}

TEST(FuzzReplayTest, EnvelopeCorpus) {
  EXPECT_GT(replay("envelope", switchyard_fuzz_envelope), 10u);
}
TEST(FuzzReplayTest, ConfigCorpus) { EXPECT_GT(replay("config", switchyard_fuzz_config), 5u); }
TEST(FuzzReplayTest, BoundedJsonCorpus) {
  EXPECT_GT(replay("bounded_json", switchyard_fuzz_bounded_json), 5u);
}
TEST(FuzzReplayTest, DeadLetterCorpus) {
  EXPECT_GT(replay("dead_letter", switchyard_fuzz_dead_letter), 5u);
}
TEST(FuzzReplayTest, RedisUrlCorpus) {
  EXPECT_GT(replay("redis_url", switchyard_fuzz_redis_url), 5u);
}

}  // namespace
