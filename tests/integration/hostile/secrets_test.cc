// secrets_test.cc: Redis passwords (default user and an ACL user; from $SWITCHYARD_REDIS_PASSWORD,
// password_file or a redis:// URL) never appear in any output of any command, failures included.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "hostile_support.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

constexpr const char* kPass = "s3cret-Pa55";            // requirepass (the default user)
constexpr const char* kAlice = "alice";                 // an ACL user
constexpr const char* kAlicePass = "Al1ce-hunter2-Pw";  // alice's password
constexpr const char* kWrong = "wr0ng-Guess-Pw";        // a wrong password (a secret as well)
constexpr const char* kKey = "events";

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Children inherit the test's environment: make sure only what a case sets is there.
    unsetenv("SWITCHYARD_REDIS_PASSWORD");
    unsetenv("SWITCHYARD_REDIS_URL");
    redis_.start();
    RedisClient admin = redis_.client();
    admin.command(
        {"ACL", "SETUSER", kAlice, "on", std::string(">") + kAlicePass, "~*", "&*", "+@all"});
    // Set last: this connection stays authenticated, every new one needs the password.
    admin.command({"CONFIG", "SET", "requirepass", kPass});
    tcp_ = "127.0.0.1:" + std::to_string(redis_.port());
  }

  // routes.yaml with this url and optional password_file and metrics port.
  std::string config(const std::string& name, const std::string& url,
                     const std::string& password_file = "", int metrics_port = 0) {
    std::string y = "version: 1\nredis:\n  url: " + json_string(url) + "\n";
    if (!password_file.empty()) y += "  password_file: " + json_string(password_file) + "\n";
    y += "plugins_dir: " + json_string(SWITCHYARD_PLUGIN_DIR) + "\n";
    y += "sources:\n  events: {key: events, batch: 16}\n";
    y += "handlers:\n  users_db:\n    plugin: user_registered_sink\n    config: {database: " +
         json_string(db()) + "}\n";
    y += "routes:\n  user.registered: [users_db]\n";
    if (metrics_port)
      y += "metrics: {listen: \"127.0.0.1:" + std::to_string(metrics_port) + "\"}\n";
    return dir_.write(name, y);
  }
  std::string password_file(const std::string& name, const std::string& secret, mode_t mode) {
    std::string path = dir_.write(name, std::string(secret) + "\n");
    chmod(path.c_str(), mode);
    return path;
  }
  std::string db() const { return dir_.file("analytics.db"); }

  // Runs `switchyard ARGS -c CONFIG [--redis URL]` and records everything it printed.
  CommandResult cli(const std::string& label, std::vector<std::string> args,
                    const std::string& config_path, const std::string& redis_url = "",
                    const Env& env = {}) {
    args.push_back("-c");
    args.push_back(config_path);
    if (!redis_url.empty()) {
      args.push_back("--redis");
      args.push_back(redis_url);
    }
    CommandResult r = SwitchyardProcess::exec(args, 30s, env);
    record(label + " (exit " + std::to_string(r.exit_code) + ")", r.out + r.err);
    return r;
  }

  // Runs the daemon until it stored `user_id` (when expect_ok) or until it exits or logs an error,
  // scrapes /metrics, /healthz and /readyz, stops it, and records its log and those pages.
  void daemon(const std::string& label, const std::string& config_path, bool expect_ok,
              int64_t user_id, int metrics_port, const std::vector<std::string>& args = {},
              const Env& env = {}) {
    SwitchyardProcess d = SwitchyardProcess::run(config_path, dir_.file(label + ".log"), args, env);
    if (expect_ok) {
      EXPECT_TRUE(wait_until(
          [&] {
            return query_int(db(), "SELECT count(*) FROM user_registrations WHERE user_id = " +
                                       std::to_string(user_id)) == 1;
          },
          30s, label + ": the daemon stored user " + std::to_string(user_id)))
          << d.log_tail();
    } else {
      // It either exits (a configuration it refuses) or logs why it cannot reach Redis.
      EXPECT_TRUE(wait_until(
          [&] {
            const std::string log = d.log();
            return !d.is_running() || log.find(" error ") != std::string::npos ||
                   log.find(" warn ") != std::string::npos;
          },
          10s, label + ": the daemon exits or logs why it cannot run"))
          << d.log_tail();
    }
    if (metrics_port) {
      wait_until([&] { return !http_get(metrics_port, "/healthz").body.empty(); }, 10s,
                 label + ": /healthz answers");
      for (const char* page : {"/metrics", "/healthz", "/readyz"})
        record(label + " GET " + page, http_get(metrics_port, page).body);
    }
    d.stop(20s);
    record(label + " log", d.log());
  }

  void record(const std::string& label, const std::string& text) {
    outputs_.push_back({label, text});
  }

  // Every recorded output, and everything stored in Redis, is free of every secret.
  void expect_no_secret_anywhere() {
    for (const auto& [label, text] : outputs_) {
      for (const char* secret : {kPass, kAlicePass, kWrong}) {
        EXPECT_EQ(find_secret(text, secret), "") << label << " shows a password";
      }
    }
  }

  RedisServer redis_{RedisServerOptions{.appendonly = false, .tcp = true, .extra_args = {}}};
  TempDir dir_;
  std::string tcp_;
  std::vector<std::pair<std::string, std::string>> outputs_;
};

TEST_F(SecretsTest, NoCommandEverPrintsAPassword) {
  const std::string unix_url = redis_.url();
  const std::string pw_file = password_file("redis.password", kPass, 0600);
  const int metrics_port = pick_free_tcp_port();
  const Env env_pass{{"SWITCHYARD_REDIS_PASSWORD", kPass}};
  const Env env_alice{{"SWITCHYARD_REDIS_PASSWORD", kAlicePass}};
  const Env env_wrong{{"SWITCHYARD_REDIS_PASSWORD", kWrong}};

  const std::string by_env = config("by-env.yaml", unix_url, "", metrics_port);
  const std::string by_file = config("by-file.yaml", unix_url, pw_file);
  const std::string acl_tcp = config("acl.yaml", "redis://alice@" + tcp_ + "/0");
  const std::string plain = config("plain.yaml", unix_url);
  const std::string pass_url = "redis://:" + std::string(kPass) + "@" + tcp_ + "/0";
  const std::string alice_url = "redis://alice:" + std::string(kAlicePass) + "@" + tcp_ + "/0";

  // 1. Working setups: every command, each way of giving the password.
  struct Way {
    std::string name, config, url;
    Env env;
  };
  const std::vector<Way> ways = {
      {"env", by_env, "", env_pass},
      {"password_file", by_file, "", {}},
      {"url", plain, pass_url, {}},
      {"acl-url", plain, alice_url, {}},
      {"acl-env", acl_tcp, "", env_alice},
      {"env-url", plain, "", {{"SWITCHYARD_REDIS_URL", alice_url}}},
      // An ACL user over the unix socket (the recommended local transport).
      {"acl-unix", config("acl-unix.yaml", "unix://alice@" + redis_.socket_path()), "", env_alice},
      {"acl-unix-url",
       plain,
       "unix://alice:" + std::string(kAlicePass) + "@" + redis_.socket_path(),
       {}},
  };
  int64_t user_id = 0;
  for (const Way& w : ways) {
    SCOPED_TRACE(w.name);
    ++user_id;
    CommandResult version = SwitchyardProcess::exec({"version"}, 30s, w.env);
    EXPECT_EQ(version.exit_code, 0) << version;
    record(w.name + " version", version.out + version.err);
    CommandResult check = cli(w.name + " check", {"check"}, w.config, w.url, w.env);
    EXPECT_EQ(check.exit_code, 0) << check;
    EXPECT_THAT(check.out, HasSubstr("redis: reachable")) << check;
    CommandResult pub =
        cli(w.name + " publish",
            {"publish", "user.registered", "{\"user_id\":" + std::to_string(user_id) + "}"},
            w.config, w.url, w.env);
    EXPECT_EQ(pub.exit_code, 0) << pub;
    // A dead letter too, so that dlq has something to show.
    cli(w.name + " publish bad", {"publish", "no.such.event", "{\"secret_field\":1}"}, w.config,
        w.url, w.env);
    EXPECT_EQ(cli(w.name + " stats", {"stats"}, w.config, w.url, w.env).exit_code, 0);
    cli(w.name + " stats --json", {"stats", "--json"}, w.config, w.url, w.env);
    EXPECT_EQ(cli(w.name + " dlq list", {"dlq", "list"}, w.config, w.url, w.env).exit_code, 0);
    cli(w.name + " dlq show", {"dlq", "show"}, w.config, w.url, w.env);
    std::vector<std::string> run_args;
    if (!w.url.empty()) run_args = {"--redis", w.url};
    daemon(w.name + "-run", w.config, /*expect_ok=*/true, user_id,
           w.config == by_env ? metrics_port : 0, run_args, w.env);
  }

  // 2. Failures: wrong passwords, no server, bad URLs. They fail, and still say nothing secret.
  const std::string closed = "127.0.0.1:" + std::to_string(pick_free_tcp_port());
  struct Failure {
    std::string name, config, url;
    Env env;
  };
  const std::vector<Failure> failures = {
      {"wrong env password", plain, "", env_wrong},
      {"wrong url password", plain, "redis://:" + std::string(kWrong) + "@" + tcp_ + "/0", {}},
      {"wrong acl password", plain, "redis://alice:" + std::string(kWrong) + "@" + tcp_ + "/0", {}},
      {"no password", plain, "", {}},
      {"connection refused", plain, "redis://:" + std::string(kPass) + "@" + closed + "/0", {}},
      {"connection refused (acl)",
       acl_tcp,
       "redis://alice:" + std::string(kAlicePass) + "@" + closed + "/0",
       {}},
      {"missing socket", config("missing.yaml", "unix://" + dir_.file("absent.sock")), "",
       env_pass},
      {"bad port", plain, "redis://:" + std::string(kPass) + "@127.0.0.1:99999/0", {}},
      {"bad db", plain, "redis://alice:" + std::string(kAlicePass) + "@" + tcp_ + "/x", {}},
      {"slash in password, bad port",
       plain,
       "redis://u:" + std::string(kPass) + "/" + kWrong + "@h:x/0",
       {}},
      {"unix url, bad db",
       plain,
       "unix://alice:" + std::string(kAlicePass) + "@" + redis_.socket_path() + "?db=x",
       {}},
      {"bad scheme", plain, "rediss://:" + std::string(kPass) + "@" + tcp_ + "/0", {}},
      {"env url refused",
       plain,
       "",
       {{"SWITCHYARD_REDIS_URL", "redis://:" + std::string(kPass) + "@" + closed + "/0"}}},
  };
  for (const Failure& f : failures) {
    SCOPED_TRACE(f.name);
    CommandResult pub =
        cli(f.name + " publish", {"publish", "user.registered", "{\"user_id\":999}"}, f.config,
            f.url, f.env);
    EXPECT_NE(pub.exit_code, 0) << pub;
    cli(f.name + " check", {"check"}, f.config, f.url, f.env);
    EXPECT_NE(cli(f.name + " stats", {"stats"}, f.config, f.url, f.env).exit_code, 0);
    EXPECT_NE(cli(f.name + " dlq list", {"dlq", "list"}, f.config, f.url, f.env).exit_code, 0);
    std::vector<std::string> run_args;
    if (!f.url.empty()) run_args = {"--redis", f.url};
    daemon(f.name + "-run", f.config, /*expect_ok=*/false, 0, 0, run_args, f.env);
  }

  // 3. Usage errors: the parser quotes the arguments it did not expect, URLs included.
  const std::vector<std::vector<std::string>> usage_errors = {
      {"version", "--redis", pass_url},
      {"publish", "user.registered", "{}", "--rediss", pass_url},
      {"stats", "--redis=" + alice_url, "--bogus"},
      {"check", "--redis", alice_url, "unexpected-argument"},
      {"dlq", "list", "--redis", pass_url, "--limit", "abc"},
      {"nonsense", pass_url},
  };
  for (const auto& args : usage_errors) {
    CommandResult r = SwitchyardProcess::exec(args, 30s);
    EXPECT_EQ(r.exit_code, 2) << r;
    record("usage error: " + args[0] + " (exit " + std::to_string(r.exit_code) + ")",
           r.out + r.err);
  }

  // 4. What Redis holds (dead letters, client names, anything) is free of secrets too.
  RedisClient admin(redis_.socket_path());
  Reply auth = admin.try_command({"AUTH", kPass});
  ASSERT_FALSE(auth.is_error()) << auth.describe();
  std::string stored;
  for (const std::string& key : admin.keys("*")) {
    const std::string type = admin.command({"TYPE", key}).str;
    stored += key + " (" + type + "): ";
    if (type == "list") {
      for (const auto& v : admin.lrange(key)) stored += v + "\n";
    } else if (type == "string") {
      stored += admin.command({"GET", key}).str + "\n";
    } else {
      const char* dump = type == "hash" ? "HGETALL" : type == "zset" ? "ZRANGE" : nullptr;
      if (dump == nullptr) continue;
      Reply r = type == "zset" ? admin.command({dump, key, "0", "-1", "WITHSCORES"})
                               : admin.command({dump, key});
      stored += r.describe() + "\n";
    }
  }
  EXPECT_THAT(stored, HasSubstr("no route for event")) << "the dead letters are there";
  record("redis contents", stored);
  record("CLIENT LIST", admin.command({"CLIENT", "LIST"}).str);
  record("redis.log", read_file(redis_.log_path()));

  // The scan is not vacuous: the failures were reported, with the URLs redacted.
  std::string all;
  for (const auto& [label, text] : outputs_) all += text;
  EXPECT_THAT(all, HasSubstr("authentication failed"));
  EXPECT_THAT(all, HasSubstr("WRONGPASS"));
  EXPECT_THAT(all, HasSubstr("cannot connect"));
  EXPECT_THAT(all, HasSubstr("redis://:***@"));
  EXPECT_THAT(all, HasSubstr("Redis URL \"redis://...\" (the URL given, redacted)"));
  EXPECT_THAT(all, HasSubstr("redis://alice@127.0.0.1"));
  EXPECT_THAT(all, HasSubstr("unix://alice@/"));
  EXPECT_THAT(all, HasSubstr("switchyard_"));  // the /metrics page was scraped
  ASSERT_GT(outputs_.size(), 100u);
  expect_no_secret_anywhere();
}

TEST_F(SecretsTest, PasswordFileReadableByOthersIsRefused) {
  const std::string file = password_file("world.password", kPass, 0644);
  const std::string cfg = config("world.yaml", redis_.url(), file);
  for (const char* command : {"check", "publish", "stats", "run"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> args = {command};
    if (std::string(command) == "publish") args = {"publish", "user.registered", "{\"user_id\":1}"};
    CommandResult r = cli(std::string("world-readable ") + command, args, cfg);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_THAT(r.err, HasSubstr("world.yaml:"));
    EXPECT_THAT(r.err, HasSubstr("redis.password_file " + file + " is readable by other users"));
    EXPECT_THAT(r.err, HasSubstr("chmod o-rwx " + file));
  }
  // 0640 (group may read, others not) is accepted; the secret itself is never echoed.
  chmod(file.c_str(), 0640);
  CommandResult ok = cli("group-readable check", {"check"}, cfg);
  EXPECT_EQ(ok.exit_code, 0) << ok;
  EXPECT_THAT(ok.out, HasSubstr("redis: reachable"));
  // A missing file names itself.
  CommandResult missing = cli("missing file", {"check"},
                              config("absent.yaml", redis_.url(), dir_.file("absent.password")));
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_THAT(missing.err, HasSubstr(dir_.file("absent.password")));
  expect_no_secret_anywhere();
}

// /etc/shadow is root:shadow 0640: a file its group may read is a password meant for this
// switchyard only when that group is one of the caller's.
TEST_F(SecretsTest, PasswordFileReadableByAnotherGroupIsRefused) {
  std::vector<gid_t> groups(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
  const int n = getgroups(static_cast<int>(groups.size()), groups.data());
  groups.resize(static_cast<size_t>(std::max(n, 0)));
  gid_t other = 4242;
  while (other == getegid() || std::find(groups.begin(), groups.end(), other) != groups.end())
    ++other;
  const std::string file = password_file("shadow.password", kPass, 0640);
  ASSERT_EQ(chown(file.c_str(), 0, other), 0) << strerror(errno);
  ASSERT_EQ(chmod(file.c_str(), 0640), 0) << strerror(errno);
  const std::string cfg = config("shadow.yaml", redis_.url(), file);
  CommandResult r = cli("other group check", {"check"}, cfg);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("redis.password_file " + file + " is readable by group " +
                               std::to_string(other) + " (mode 0640)"));
  EXPECT_THAT(r.err, HasSubstr("chmod 0600 " + file));
  // Without group read it is fine whatever the group.
  ASSERT_EQ(chmod(file.c_str(), 0600), 0) << strerror(errno);
  EXPECT_EQ(cli("other group 0600 check", {"check"}, cfg).exit_code, 0);
  // The caller's own group may read it.
  ASSERT_EQ(chmod(file.c_str(), 0640), 0) << strerror(errno);
  ASSERT_EQ(chown(file.c_str(), 0, getegid()), 0) << strerror(errno);
  CommandResult ok = cli("own group check", {"check"}, cfg);
  EXPECT_EQ(ok.exit_code, 0) << ok;
  expect_no_secret_anywhere();
}

}  // namespace
}  // namespace switchyard::test
