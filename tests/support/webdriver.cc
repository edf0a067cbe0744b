// webdriver.cc: a W3C WebDriver client over cpp-httplib, JSON by RapidJSON.
#include "support/webdriver.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "support/redis_server.h"
#include "support/wait_for.h"

namespace switchyard::test {
namespace {

// The key W3C WebDriver gives element references under.
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

std::string quote(const std::string& s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buffer.GetString();
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

rapidjson::Document parse(const std::string& text, const std::string& what) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) throw std::runtime_error(what + ": not JSON: " + text.substr(0, 300));
  return doc;
}

// The element reference of one element object of a find answer.
std::string element_of(const rapidjson::Value& e, const std::string& css) {
  if (!e.IsObject() || !e.HasMember(kElementKey) || !e[kElementKey].IsString())
    throw std::runtime_error("find " + css + ": no element reference in " + to_json(e));
  return e[kElementKey].GetString();
}

std::string find_program(const char* name, const char* fallback) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return fallback;
}

}  // namespace

WebDriver::WebDriver() : profile_("switchyard-chromium") {
  const std::string driver = find_program("chromedriver", "/usr/bin/chromedriver");
  const std::string browser = find_program("chromium", "/usr/bin/chromium");
  if (access(driver.c_str(), X_OK) != 0 || access(browser.c_str(), X_OK) != 0)
    throw std::runtime_error(
        "chromedriver or chromium not found: install the Debian packages chromium and "
        "chromium-driver (scripts/install-deps does)");
  port_ = pick_free_tcp_port();
  driver_.spawn({driver, "--port=" + std::to_string(port_)}, {}, profile_.file("chromedriver.log"));
  wait_or_throw(
      [&] {
        httplib::Client client("127.0.0.1", port_);
        client.set_connection_timeout(1, 0);
        auto res = client.Get("/status");
        return res && res->status == 200 && res->body.find("\"ready\":true") != std::string::npos;
      },
      std::chrono::seconds(20), "chromedriver on port " + std::to_string(port_) + " to be ready");
  const std::string caps =
      "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"chrome\",\"goog:chromeOptions\":{"
      "\"binary\":" +
      quote(browser) +
      ",\"args\":[\"--headless=new\",\"--no-sandbox\",\"--disable-gpu\","
      "\"--disable-dev-shm-usage\",\"--window-size=1280,900\",\"--user-data-dir=" +
      profile_.file("profile") + "\"]}}}}";
  rapidjson::Document value = parse(call("POST", "/session", caps), "new session");
  if (!value.IsObject() || !value.HasMember("sessionId") || !value["sessionId"].IsString())
    throw std::runtime_error("new session: no sessionId in " + to_json(value));
  session_ = value["sessionId"].GetString();
}

WebDriver::~WebDriver() {
  if (!session_.empty()) {
    try {
      call("DELETE", "/session/" + session_);
    } catch (const std::exception&) {
      // chromedriver is stopped below either way.
    }
  }
  driver_.signal(SIGTERM);
  if (!driver_.wait_exit(std::chrono::seconds(5))) driver_.kill9();
}

std::string WebDriver::call(const std::string& method, const std::string& path,
                            const std::string& body) {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(60, 0);
  client.set_write_timeout(10, 0);
  httplib::Result res = method == "GET" ? client.Get(path)
                        : method == "DELETE"
                            ? client.Delete(path)
                            : client.Post(path, body.empty() ? "{}" : body, "application/json");
  const std::string what = method + " " + path;
  if (!res)
    throw std::runtime_error(what + ": no answer from chromedriver (" +
                             httplib::to_string(res.error()) + ")");
  rapidjson::Document doc = parse(res->body, what);
  if (!doc.IsObject() || !doc.HasMember("value"))
    throw std::runtime_error(what + ": no value in " + res->body.substr(0, 300));
  const rapidjson::Value& value = doc["value"];
  if (res->status != 200) {
    std::string error = value.IsObject() && value.HasMember("error") && value["error"].IsString()
                            ? value["error"].GetString()
                            : "HTTP " + std::to_string(res->status);
    std::string message =
        value.IsObject() && value.HasMember("message") && value["message"].IsString()
            ? value["message"].GetString()
            : "";
    throw std::runtime_error(what + " (" + body.substr(0, 200) + "): " + error + ": " +
                             message.substr(0, 400));
  }
  return to_json(value);
}

void WebDriver::navigate(const std::string& url) {
  call("POST", "/session/" + session_ + "/url", "{\"url\":" + quote(url) + "}");
}

std::string WebDriver::find(const std::string& css) {
  rapidjson::Document v = parse(call("POST", "/session/" + session_ + "/element",
                                     "{\"using\":\"css selector\",\"value\":" + quote(css) + "}"),
                                "find " + css);
  return element_of(v, css);
}

std::vector<std::string> WebDriver::find_all(const std::string& css) {
  rapidjson::Document v = parse(call("POST", "/session/" + session_ + "/elements",
                                     "{\"using\":\"css selector\",\"value\":" + quote(css) + "}"),
                                "find all " + css);
  std::vector<std::string> out;
  if (!v.IsArray()) throw std::runtime_error("find all " + css + ": not an array: " + to_json(v));
  for (const auto& e : v.GetArray()) out.push_back(element_of(e, css));
  return out;
}

void WebDriver::click(const std::string& element) {
  call("POST", "/session/" + session_ + "/element/" + element + "/click", "{}");
}

void WebDriver::click_css(const std::string& css) {
  for (int attempt = 1;; ++attempt) {
    try {
      click(find(css));
      return;
    } catch (const std::runtime_error& e) {
      if (attempt == 5 ||
          std::string(e.what()).find("stale element reference") == std::string::npos)
        throw;
    }
  }
}

void WebDriver::clear(const std::string& element) {
  call("POST", "/session/" + session_ + "/element/" + element + "/clear", "{}");
}

void WebDriver::send_keys(const std::string& element, const std::string& text) {
  call("POST", "/session/" + session_ + "/element/" + element + "/value",
       "{\"text\":" + quote(text) + "}");
}

std::string WebDriver::text(const std::string& element) {
  rapidjson::Document v =
      parse(call("GET", "/session/" + session_ + "/element/" + element + "/text"), "text");
  return v.IsString() ? v.GetString() : "";
}

std::string WebDriver::execute(const std::string& script) {
  return call("POST", "/session/" + session_ + "/execute/sync",
              "{\"script\":" + quote(script) + ",\"args\":[]}");
}

std::string WebDriver::screenshot_png() {
  rapidjson::Document v = parse(call("GET", "/session/" + session_ + "/screenshot"), "screenshot");
  const std::string b64 = v.GetString();
  std::string png(b64.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) throw std::runtime_error("screenshot: not base64");
  size_t size = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) --size;
  png.resize(size);
  return png;
}

std::string WebDriver::save_screenshot(const std::string& name) {
  const char* env = std::getenv("SWITCHYARD_ARTIFACTS_DIR");
  const std::string dir = env && *env ? env : SWITCHYARD_ARTIFACTS_DEFAULT_DIR;
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name + ".png";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << screenshot_png();
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

}  // namespace switchyard::test
