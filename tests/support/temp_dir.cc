// temp_dir.cc: creates and removes per-test temporary directories.
#include "support/temp_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace switchyard::test {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory " + pattern + ": " +
                             std::strerror(errno) + " (set TMPDIR to a writable directory)");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!keep_ && std::getenv("SWITCHYARD_KEEP_TEST_DIRS") == nullptr)
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string full = file(name);
  std::ofstream out(full, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + full);
  return full;
}

}  // namespace switchyard::test
