// webdriver.h: drives headless Chromium through chromedriver's W3C WebDriver HTTP API, for the
// browser tests of the web console (test kit, no GTest): navigate, find, click, type, read text,
// run a script, take screenshots.
#ifndef SWITCHYARD_TESTS_SUPPORT_WEBDRIVER_H_
#define SWITCHYARD_TESTS_SUPPORT_WEBDRIVER_H_

#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace switchyard::test {

// One chromedriver process with one headless Chromium session (--headless=new --no-sandbox, a
// private profile, a 1280x900 window).
// Ownership: the destructor ends the session (Chromium exits) and stops chromedriver.
// Thread safety: not thread-safe; drive it from the test's main thread.
// Errors: every call throws std::runtime_error naming the WebDriver command and what
// chromedriver answered (e.g. "no such element" with the selector).
class WebDriver {
 public:
  // Starts chromedriver (from $PATH, else /usr/bin/chromedriver) and a session. Throws when
  // chromedriver or chromium is missing (naming the Debian packages) or does not start.
  WebDriver();
  ~WebDriver();
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  // Loads url and waits for the document to load.
  void navigate(const std::string& url);
  // The element that matches the CSS selector (its WebDriver id); throws when none does.
  std::string find(const std::string& css);
  // Every element that matches (possibly none).
  std::vector<std::string> find_all(const std::string& css);
  void click(const std::string& element);
  // Finds the first element matching css and clicks it. A page that redraws (the console polls)
  // may replace the element between the two: then it finds and clicks again, up to 5 times.
  void click_css(const std::string& css);
  void clear(const std::string& element);
  void send_keys(const std::string& element, const std::string& text);
  // The rendered text of the element (what a person sees).
  std::string text(const std::string& element);
  // Runs `script` (a function body; `return` gives the value) in the page; returns the value
  // as JSON text ("null", "3", "\"text\"", "[...]").
  std::string execute(const std::string& script);
  // The page as PNG bytes.
  std::string screenshot_png();
  // Saves screenshot_png() as <dir>/<name>.png, dir = $SWITCHYARD_ARTIFACTS_DIR or
  // build/artifacts/screenshots (created); returns the path.
  std::string save_screenshot(const std::string& name);

 private:
  // One WebDriver command; returns the JSON text of the answer's "value".
  std::string call(const std::string& method, const std::string& path,
                   const std::string& body = "");

  TempDir profile_;
  ChildProcess driver_;
  int port_ = 0;
  std::string session_;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_WEBDRIVER_H_
