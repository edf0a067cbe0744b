// temp_dir.h: a private temporary directory for one test (or bench run), removed (recursively)
// when destroyed; part of the test kit (no GTest).
// Thread safety: not thread-safe; one per test.
#ifndef SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_
#define SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace switchyard::test {

class TempDir {
 public:
  // Creates a fresh directory $TMPDIR/<prefix>-XXXXXX ($TMPDIR unset or empty: /tmp).
  // Throws std::runtime_error (naming the pattern) if it cannot.
  explicit TempDir(const std::string& prefix = "switchyard-test");
  // Removes the directory, unless keep() was called or $SWITCHYARD_KEEP_TEST_DIRS is set.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes text to path()/name and returns the full path. Throws std::runtime_error if it cannot.
  std::string write(const std::string& name, const std::string& text) const;
  // Leaves the directory in place when destroyed (e.g. to read logs afterwards).
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_
