// temp_dir.h: a private temporary directory for one test, removed (recursively) when destroyed.
// Thread safety: not thread-safe; one per test.
#ifndef SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_
#define SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace switchyard::test {

class TempDir {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp); aborts the test run if it cannot.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes text to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_TEMP_DIR_H_
