// console_test.cc: the web console in headless Chromium against the real daemon and Redis: the
// overview follows a backlog that grows while paused and drains after resume, with each
// consumer's last heartbeat; hostile bytes in a dead letter render as text; a replay (one, and a
// confirmed filtered set) from the page lands the rows in SQLite; write actions without the
// token, with a wrong one, cross-site, or with writing off are refused; every resource comes from
// the console's own origin; the routes graph draws 50 handlers and the contracts; 100,000 dead
// letters page and a filtered purge asks first; `switchyard console` shows the same from Redis
// alone and names a bad --listen. Screenshots of each page go to $SWITCHYARD_ARTIFACTS_DIR.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "records/dead_letter.h"
#include "source/source.h"
#include "support/events.h"
#include "support/http_get.h"
#include "support/plugin_paths.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "support/webdriver.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "s3cret-console-token-0123456789";

// A dead letter as the daemon writes it.
std::string dead_letter(const std::string& message, const std::optional<std::string>& handler,
                        const std::string& reason) {
  DeadLetter d;
  d.message = message;
  d.source = "events";
  d.handler = handler;
  d.reason = reason;
  d.attempts = 3;
  d.failed_at = now_iso8601();
  d.instance = "test:1";
  return encode_dead_letter(d);
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    plugins_ = dir_.path() + "/plugins";
    std::filesystem::create_directories(plugins_);
    for (const char* p : {"user_registered_sink", "quote_created_sink"})
      std::filesystem::copy(bundled_plugin(p), plugins_);
    token_file_ = dir_.write("ui.token", std::string(kToken) + "\n");
    chmod(token_file_.c_str(), 0600);
  }

  // Writes routes.yaml with the console on (write as given) and starts the daemon.
  void start(bool write = true) {
    port_ = pick_free_tcp_port();
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = plugins_;
    spec.database = dir_.file("analytics.db");
    spec.source_extra = "batch: 50\ndead_letter_max: 200000";
    spec.extra_handlers = extra_handlers_;
    spec.extra_routes = extra_routes_;
    spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port_) +
                      "\" }\nui: { enabled: true, write: " + (write ? "true" : "false") +
                      ", token_file: \"" + token_file_ + "\" }\n" + extra_yaml_;
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
    daemon_ = SwitchyardProcess::run(config_, dir_.file("switchyard.log"));
    ASSERT_TRUE(wait_until([&] { return http_get(port_, "/ui/api/overview").status == 200; }, 20s,
                           "the console's overview API to answer"))
        << daemon_.log_tail();
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  WebDriver& browser() {
    if (!browser_) browser_ = std::make_unique<WebDriver>();
    return *browser_;
  }
  // The rendered text of the first element matching css, "" while there is none (read in one
  // script, so a redraw between finding and reading cannot get in the way).
  std::string text_of(const std::string& css) {
    const std::string json = browser().execute(
        "const e = document.querySelector(" + json_string(css) + "); return e ? e.innerText : '';");
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    return doc.IsString() ? std::string(doc.GetString(), doc.GetStringLength()) : "";
  }

  // Waits until the daemon's paused workers looked at the pause twice more: from then on they
  // take nothing (a take already blocked when the pause landed still delivers its batch).
  void wait_until_paused_workers_look() {
    auto looks = [&] {
      std::smatch m;
      const std::string text = http_get(port_, "/metrics").body;
      static const std::regex line(
          "switchyard_source_paused_waits_total\\{source=\"events\"\\} (\\d+)");
      return std::regex_search(text, m, line) ? std::stol(m[1]) : -1L;
    };
    ASSERT_TRUE(wait_until([&] { return looks() >= 0; }, 20s, "the paused source's first look"));
    const long before = looks();
    ASSERT_TRUE(wait_until([&] { return looks() >= before + 2; }, 20s,
                           "the paused source's workers to look twice more"))
        << daemon_.log_tail();
  }
  bool wait_text(const std::string& css, const std::string& needle, std::chrono::seconds timeout,
                 std::source_location where = std::source_location::current()) {
    return wait_until([&] { return text_of(css).find(needle) != std::string::npos; }, timeout,
                      css + " to show \"" + needle + "\" (it shows \"" + text_of(css) + "\")",
                      where);
  }

  httplib::Result post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10, 0);
    return client.Post(path, headers, body, "application/json");
  }

  CommandResult cli(std::vector<std::string> args) {
    args.push_back("-c");
    args.push_back(config_);
    return SwitchyardProcess::exec(args);
  }

  std::string dead_key() const { return SourceKeys("events").dead(); }

  // The JSON text of what `script` returns, parsed.
  rapidjson::Document evaluate(const std::string& script) {
    const std::string json = browser().execute(script);
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    return doc;
  }

  RedisServer redis_;
  TempDir dir_;
  std::string plugins_, token_file_, config_;
  std::string extra_handlers_, extra_routes_, extra_yaml_;  // start() adds them to routes.yaml
  int port_ = 0;
  SwitchyardProcess daemon_;
  std::unique_ptr<WebDriver> browser_;
};

TEST_F(ConsoleTest, OverviewShowsTheBacklogGrowWhilePausedAndDrainAfterResume) {
  constexpr int kEvents = 300;
  start();
  ASSERT_EQ(cli({"pause", "events"}).exit_code, 0);
  wait_until_paused_workers_look();
  browser().navigate(base() + "/ui/#overview");
  ASSERT_TRUE(wait_text(".card.source", "PAUSED since", 20s));
  // The daemon's consumer with its last heartbeat: how long ago, and the time itself as title,
  // both by Redis' clock (the overview API gives it, and Redis' now).
  ASSERT_TRUE(wait_text(".consumers li .alive", "last heartbeat", 20s));
  const std::string ago = text_of(".consumers li .alive time.ago");
  EXPECT_TRUE(std::regex_match(ago, std::regex("\\d+\\.\\d s ago"))) << ago;
  const rapidjson::Document title =
      evaluate("return document.querySelector('.consumers li .alive time.ago').title");
  ASSERT_TRUE(title.IsString());
  EXPECT_TRUE(std::regex_match(title.GetString(),
                               std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z")))
      << title.GetString();
  {
    HttpResult overview = http_get(port_, "/ui/api/overview");
    rapidjson::Document o;
    o.Parse(overview.body.c_str());
    ASSERT_TRUE(o.IsObject() && o["sources"][0]["consumers"].Size() >= 1) << overview.body;
    const rapidjson::Value& consumer = o["sources"][0]["consumers"][0];
    ASSERT_TRUE(consumer["heartbeat_ms"].IsInt64()) << overview.body;
    const int64_t age = o["now_ms"].GetInt64() - consumer["heartbeat_ms"].GetInt64();
    EXPECT_GE(age, 0) << overview.body;
    EXPECT_LT(age, 60000) << overview.body;  // refreshed well within reclaim_after
  }
  RedisClient client = redis_.client();
  client.rpush_many("events", mixed_events(kEvents), 100);
  const std::string pending = "tr[data-source=\"events\"] td.pending";
  ASSERT_TRUE(wait_until([&] { return text_of(pending) == std::to_string(kEvents); }, 20s,
                         "the overview to show the paused backlog of " + std::to_string(kEvents)));
  EXPECT_EQ(count_rows(dir_.file("analytics.db"), "quotes"), 0);
  browser().save_screenshot("console-overview-paused");

  ASSERT_EQ(cli({"resume", "events"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return text_of(pending) == "0"; }, 60s,
                         "the overview to show the backlog drained"))
      << daemon_.log_tail();
  EXPECT_EQ(text_of(".card.source .paused.state"), "");
  ASSERT_TRUE(wait_until(
      [&] {
        return count_rows(dir_.file("analytics.db"), "quotes") +
                   count_rows(dir_.file("analytics.db"), "user_registrations") ==
               kEvents;
      },
      30s, "every event to land"));
  // The sampler's last hour reached the page as a chart.
  ASSERT_TRUE(wait_until([&] { return !browser().find_all(".chart path.backlog").empty(); }, 20s,
                         "the backlog chart"));
  browser().save_screenshot("console-overview");
}

TEST_F(ConsoleTest, AHostileEventNameRendersAsTextAndRunsNothing) {
  start();
  const std::string hostile = "<img src=x onerror=\"window.__pwned=1\">";
  RedisClient client = redis_.client();
  client.rpush(dead_key(), dead_letter(envelope(hostile,
                                                "{\"note\":\"<script>window.__pwned=2"
                                                "</script>\"}"),
                                       std::string("quotes_db"), "<b>bad</b> & worse"));
  browser().navigate(base() + "/ui/#dead");
  ASSERT_TRUE(wait_text("#dead-rows td.event", hostile, 20s));
  EXPECT_EQ(text_of("#dead-rows td.reason"), "<b>bad</b> & worse");
  browser().click_css("#dead-rows tr");
  ASSERT_TRUE(wait_text("#letter-message", "<script>window.__pwned=2</script>", 20s));
  EXPECT_NE(text_of("#letter-message").find(hostile.substr(0, 10)), std::string::npos);
  EXPECT_EQ(browser().execute("return document.querySelectorAll('img, script:not([src])').length"),
            "0");
  EXPECT_EQ(browser().execute("return window.__pwned === undefined"), "true");
  browser().save_screenshot("console-dead-letter");
}

TEST_F(ConsoleTest, AReplayFromThePageLandsTheRow) {
  start();
  RedisClient client = redis_.client();
  client.rpush(dead_key(), dead_letter(quote_created(4343), std::string("quotes_db"), "disk full"));
  client.rpush(dead_key(),
               dead_letter(quote_created(4242), std::string("quotes_db"), "database is locked"));
  browser().navigate(base() + "/ui/#dead");
  ASSERT_TRUE(wait_text("#dead-rows td.event", "quote.created", 20s));
  browser().send_keys(browser().find("#token"), kToken);
  browser().click_css("#dead-rows tr");
  ASSERT_TRUE(wait_text("#letter-message", "4242", 20s));
  browser().save_screenshot("console-dead-letters");
  browser().click_css("#replay-one");
  ASSERT_TRUE(wait_text("#status", "replayed 1", 20s));
  ASSERT_TRUE(wait_until([&] { return count_rows(dir_.file("analytics.db"), "quotes") == 1; }, 30s,
                         "the replayed quote's row"))
      << daemon_.log_tail();
  EXPECT_EQ(client.llen(dead_key()), 1);

  // A filtered set: the confirmation names the count, then each letter goes to its handler.
  browser().send_keys(browser().find("#f-reason"), "disk full");
  browser().click_css("#apply");
  ASSERT_TRUE(wait_text("#page-info", "1–1 of 1 ", 20s));
  browser().click_css("#replay-all");
  ASSERT_TRUE(wait_text("#confirm-text",
                        "Replay 1 dead letter(s) matching the filter in " + dead_key() + "?", 20s));
  browser().click_css("#confirm-yes");
  ASSERT_TRUE(wait_text("#status", "replayed 1 dead letter(s)", 20s));
  ASSERT_TRUE(wait_until([&] { return count_rows(dir_.file("analytics.db"), "quotes") == 2; }, 30s,
                         "the second replayed quote's row"))
      << daemon_.log_tail();
  EXPECT_EQ(client.llen(dead_key()), 0);
}

TEST_F(ConsoleTest, WriteActionsWithoutTheRightTokenOrFromAnotherSiteAreRefused) {
  start();
  RedisClient client = redis_.client();
  const std::string letter = dead_letter(quote_created(7), std::string("quotes_db"), "boom");
  client.rpush(dead_key(), letter);
  const std::string body = "{\"source\":\"events\",\"ids\":[\"" + dead_letter_id(letter) + "\"]}";
  auto no_token = post("/ui/api/purge", body, {});
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401) << no_token->body;
  auto wrong = post("/ui/api/purge", body, {{"X-Switchyard-Token", "not-the-token-at-all"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403) << wrong->body;
  auto bearer_wrong = post("/ui/api/replay", body, {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(bearer_wrong);
  EXPECT_EQ(bearer_wrong->status, 403) << bearer_wrong->body;
  auto cross_site = post("/ui/api/purge", body,
                         {{"X-Switchyard-Token", kToken},
                          {"Origin", "http://evil.example"},
                          {"Sec-Fetch-Site", "cross-site"}});
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403) << cross_site->body;
  // A plain HTML form can send neither JSON nor the token header.
  httplib::Client form("127.0.0.1", port_);
  auto form_post = form.Post("/ui/api/purge", "source=events", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form_post);
  EXPECT_EQ(form_post->status, 415) << form_post->body;
  // POST anywhere else, or a body over the limit, is refused before it is read.
  auto elsewhere = post("/ui/api/overview", body, {{"X-Switchyard-Token", kToken}});
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(elsewhere->status, 405);
  auto big = post("/ui/api/purge", std::string(100000, ' '), {{"X-Switchyard-Token", kToken}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(client.llen(dead_key()), 1);

  auto ok = post("/ui/api/purge", body, {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(ok->body, "{\"purged\":1}");
  EXPECT_EQ(client.llen(dead_key()), 0);

  // With ui.write off, even the right token is refused.
  ASSERT_EQ(daemon_.stop(), 0);
  client.rpush(dead_key(), letter);
  start(/*write=*/false);
  auto off = post("/ui/api/purge", body, {{"X-Switchyard-Token", kToken}});
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 403) << off->body;
  EXPECT_NE(off->body.find("write actions are off"), std::string::npos) << off->body;
  EXPECT_EQ(client.llen(dead_key()), 1);
}

// Also: the routes page as a graph at 50 handlers (jsonl_sink entries routed from a few
// patterns), with contracts.
TEST_F(ConsoleTest, EveryResourceIsSameOriginUnderAStrictPolicy) {
  constexpr int kHandlers = 50;
  std::filesystem::copy(bundled_plugin("jsonl_sink"), plugins_);
  std::string audit, billing;
  for (int i = 0; i < kHandlers; ++i) {
    const std::string name = "sink_" + std::to_string(i);
    extra_handlers_ += name + ":\n  plugin: jsonl_sink\n  config: { path: " +
                       json_string(dir_.file(name + ".jsonl")) + " }\n";
    (i < kHandlers / 2 ? audit : billing) +=
        (audit.empty() || i == kHandlers / 2 ? "" : ", ") + name;
  }
  extra_routes_ = "\"audit.*\": [" + audit + "]\n\"billing.*\": [" + billing +
                  "]\n\"*.deleted\": [sink_0, sink_49, quotes_db]";
  const std::string login_schema = dir_.write("audit.login.json", "{\"type\": \"object\"}");
  extra_yaml_ = "contracts:\n  quote.created: " +
                json_string(std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json") +
                "\n  audit.login: " + json_string(login_schema) + "\n";
  start();
  httplib::Client client("127.0.0.1", port_);
  for (const char* path : {"/ui/", "/ui/console_app.js", "/ui/console_style.css",
                           "/ui/api/overview", "/ui/api/routes", "/ui/api/dead"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << path << ": " << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << path << ": " << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << path << ": " << csp;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << path;
  }
  for (const char* page : {"overview", "routes", "dead"}) {
    browser().navigate(base() + "/ui/#" + page);
    ASSERT_TRUE(wait_text("#updated", "updated", 20s)) << page;
    const std::string names =
        browser().execute("return performance.getEntriesByType('resource').map(e => e.name)");
    std::smatch m;
    std::string rest = names;
    int count = 0;
    for (std::regex url("\"(https?://[^\"]*)\""); std::regex_search(rest, m, url);
         rest = m.suffix()) {
      EXPECT_EQ(m[1].str().rfind(base() + "/", 0), 0u) << "a request left the console: " << m[1];
      ++count;
    }
    EXPECT_GE(count, 2) << names;  // the script and the style sheet at least
  }
  // The routes page at 52 handlers: every node and edge drawn within a bounded wait.
  browser().navigate(base() + "/ui/#routes");
  const std::string count_nodes =
      "return document.querySelectorAll('#route-graph g.node.handler').length";
  ASSERT_TRUE(wait_until([&] { return browser().execute(count_nodes) == "52"; }, 20s,
                         "52 handler nodes in the routes graph"));
  // audit.* -> 25, billing.* -> 25, *.deleted -> 3, and one each for the two default routes.
  EXPECT_EQ(browser().execute("return document.querySelectorAll('#route-graph path.edge').length"),
            "55");
  EXPECT_EQ(browser().execute("return document.querySelectorAll('#route-graph "
                              "path.edge[data-pattern=\"billing.*\"][data-handler=\"sink_49\"]')"
                              ".length"),
            "1");
  EXPECT_EQ(browser().find_all("#handler-rows tr").size(), 52u);
  EXPECT_NE(text_of("#handler-rows").find("quote_created_sink"), std::string::npos);
  // Contracts: on the pattern nodes that receive a contracted event, and listed with their file
  // and the patterns that route the event.
  EXPECT_EQ(browser().execute("return [...document.querySelectorAll('#route-graph "
                              "g.pattern.has-contract')].map(g => g.dataset.pattern).sort()"),
            "[\"audit.*\",\"quote.created\"]");
  EXPECT_EQ(text_of("#contract-rows tr[data-event=\"audit.login\"]"),
            "audit.login\t" + login_schema + "\taudit.*");
  EXPECT_NE(text_of("#contract-rows tr[data-event=\"quote.created\"]").find("quote.created.json"),
            std::string::npos);
  browser().save_screenshot("console-routes");
}

TEST_F(ConsoleTest, AHundredThousandDeadLettersArePagedServerSide) {
  constexpr int kLetters = 100000;
  start();
  RedisClient client = redis_.client();
  std::vector<std::string> letters;
  letters.reserve(kLetters);
  for (int i = 0; i < kLetters; ++i)
    letters.push_back(dead_letter(
        envelope(i == 0 ? "needle.event" : "quote.created", "{\"n\":" + std::to_string(i) + "}"),
        std::string("quotes_db"), "failed " + std::to_string(i)));
  client.rpush_many(dead_key(), letters, 1000);
  browser().navigate(base() + "/ui/#dead");
  ASSERT_TRUE(wait_text("#page-info", "1–50 of 100000", 30s));
  auto first_id = [&] {
    auto rows = browser().find_all("#dead-rows tr");
    if (rows.empty()) return std::string();
    return browser().text(browser().find("#dead-rows tr td code"));
  };
  EXPECT_EQ(first_id(), dead_letter_id(letters.back()));  // newest first
  EXPECT_EQ(browser().find_all("#dead-rows tr").size(), 50u);
  browser().click_css("#next");
  ASSERT_TRUE(wait_text("#page-info", "51–100 of 100000", 20s));
  EXPECT_EQ(first_id(), dead_letter_id(letters[kLetters - 51]));
  browser().save_screenshot("console-dead-letters-paged");

  // The last page, and a filter that finds the oldest letter, through the same API.
  HttpResult last = http_get(port_, "/ui/api/dead?offset=99950&limit=50");
  ASSERT_EQ(last.status, 200) << last.body;
  EXPECT_NE(last.body.find("\"more\":false"), std::string::npos) << last.body.substr(0, 300);
  EXPECT_NE(last.body.find(dead_letter_id(letters.front())), std::string::npos);
  browser().send_keys(browser().find("#f-event"), "needle.*");
  browser().click_css("#apply");
  ASSERT_TRUE(wait_text("#page-info", "1–1 of 1 ", 30s));
  EXPECT_EQ(first_id(), dead_letter_id(letters.front()));

  // Purging what the filter matches asks first, naming the count, and removes only that.
  browser().send_keys(browser().find("#token"), kToken);
  browser().click_css("#purge-all");
  ASSERT_TRUE(wait_text("#confirm-text",
                        "Purge 1 dead letter(s) matching the filter in " + dead_key() + "?", 20s));
  browser().click_css("#confirm-yes");
  ASSERT_TRUE(wait_text("#status", "purged 1 dead letter(s)", 30s));
  ASSERT_TRUE(wait_text("#page-info", "of 0 (99999 in", 30s));
  EXPECT_EQ(client.llen(dead_key()), kLetters - 1);
}

// Also: a --listen it cannot serve on is reported as --listen, with what to give instead.
TEST_F(ConsoleTest, SwitchyardConsoleShowsTheStateFromRedisAlone) {
  start();
  const std::string in_use = "127.0.0.1:" + std::to_string(port_);  // the daemon's
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"8080", "expected host:port, e.g. 127.0.0.1:9464"},
      {":8080", "expected host:port"},
      {"127.0.0.1:80x", "the port must be a number 0..65535"},
      {"127.0.0.1:99999", "the port must be a number 0..65535"},
      {in_use, "cannot bind (address in use, or not an address of this host); give a free port"}};
  for (const auto& [listen, why] : bad) {
    const CommandResult r = cli({"console", "--listen", listen});
    EXPECT_EQ(r.exit_code, 2) << listen << ": " << r.err;
    EXPECT_NE(r.err.find("switchyard console: --listen \"" + listen + "\": "), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("metrics.listen"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  // So is a --redis it cannot use: named as the flag, not as routes.yaml's redis.url.
  const CommandResult bad_redis = cli({"console", "--redis", "http://localhost:6379"});
  EXPECT_EQ(bad_redis.exit_code, 2) << bad_redis.err;
  EXPECT_NE(bad_redis.err.find("switchyard: --redis: Redis URL"), std::string::npos)
      << bad_redis.err;
  ASSERT_EQ(daemon_.stop(), 0);
  // No daemon now: the console process reads everything from Redis.
  ASSERT_EQ(cli({"pause", "events"}).exit_code, 0);
  RedisClient client = redis_.client();
  client.rpush_many("events", mixed_events(40), 40);
  ChildProcess console;
  const std::string out = dir_.file("console.out");
  console.spawn({SwitchyardProcess::binary(), "console", "-c", config_, "--listen", "127.0.0.1:0"},
                {}, out);
  int port = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        std::smatch m;
        const std::string text = read_file(out);
        if (!std::regex_search(text, m, std::regex("http://127\\.0\\.0\\.1:(\\d+)/ui/")))
          return false;
        port = std::stoi(m[1]);
        return true;
      },
      20s, "switchyard console to print its address"))
      << read_file(out);
  HttpResult overview = http_get(port, "/ui/api/overview");
  ASSERT_EQ(overview.status, 200) << overview.body;
  EXPECT_NE(overview.body.find("\"pending\":40"), std::string::npos) << overview.body;
  EXPECT_NE(overview.body.find("\"paused\":\""), std::string::npos) << overview.body;
  EXPECT_EQ(http_get(port, "/metrics").status, 404);  // only the console
  browser().navigate("http://127.0.0.1:" + std::to_string(port) + "/ui/#overview");
  ASSERT_TRUE(wait_until([&] { return text_of("tr[data-source=\"events\"] td.pending") == "40"; },
                         20s, "the console's overview"));
  ASSERT_TRUE(console.signal(SIGTERM));
  EXPECT_EQ(console.wait_exit(10s), 0);
}

}  // namespace
}  // namespace switchyard::test
