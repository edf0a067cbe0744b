// check_connect_cli_test.cc: `switchyard check --connect` through the real binary and real
// plugins: every handler's probe is reported (ok, its problems, or "no connection check" for a
// plugin without one, such as an ABI 1.0 plugin), a problem or an unreachable Redis exits 1, and
// plain `check` asks no plugin to connect.
#include <filesystem>

#include "router_fixture.h"
#include "support/plugin_paths.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class CheckConnectCliTest : public RouterTest {
 protected:
  // A plugins dir holding the bundled plugins plus probed_sink and an ABI 1.0 plugin.
  RoutesYaml spec_with(const std::string& handlers) {
    const std::string plugins = dir_.file("plugins");
    if (!fs::exists(plugins)) {
      fs::create_directories(plugins);
      for (const auto& entry : fs::directory_iterator(SWITCHYARD_PLUGIN_DIR))
        fs::copy_file(entry.path(), plugins + "/" + entry.path().filename().string());
      fs::copy_file(test_plugin("probed_sink"), plugins + "/probed_sink.so");
      fs::copy_file(test_plugin("older_descriptor_plugin"),
                    plugins + "/older_descriptor_plugin.so");
    }
    RoutesYaml spec = base_spec();
    spec.plugins_dir = plugins;
    spec.extra_handlers = handlers;
    return spec;
  }

  CommandResult check(const std::vector<std::string>& flags, const std::string& config) {
    std::vector<std::string> args = {"check"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("-c");
    args.push_back(config);
    return SwitchyardProcess::exec(args, 30s);
  }
};

const char* kHandlers =
    "fine:\n  plugin: probed_sink\n  config: {}\n"
    "legacy:\n  plugin: older_descriptor_plugin\n  config: {}\n";

TEST_F(CheckConnectCliTest, ReportsEveryHandlerAndExitsZeroWhenAllIsUsable) {
  const CommandResult r = check({"--connect"}, write_config(spec_with(kHandlers)));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("\nconnections:\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  fine: ok\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  legacy: no connection check (plugin older_descriptor_plugin)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("redis: reachable"), std::string::npos) << r.out;
}

TEST_F(CheckConnectCliTest, EachProblemIsNamedWithItsHandlerAndExitsOne) {
  const std::string handlers = std::string(kHandlers) +
                               "broken:\n  plugin: probed_sink\n  config: { problem: \"table t, "
                               "column c: no such column; add it\\ntable t: no key\" }\n";
  const CommandResult r = check({"--connect"}, write_config(spec_with(handlers)));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.out.find("  broken: 2 problem(s)\n    table t, column c: no such column; add it\n"
                       "    table t: no key\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  fine: ok\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("handler broken: table t, column c: no such column; add it"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("found 2 problem(s)"), std::string::npos) << r.err;
}

TEST_F(CheckConnectCliTest, AProbeThatThrowsIsAProblemNotACrash) {
  const std::string handlers =
      "thrower:\n  plugin: probed_sink\n  config: { throw: \"cannot reach db.internal:5432\" }\n";
  const CommandResult r = check({"--connect"}, write_config(spec_with(handlers)));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("handler thrower: cannot reach db.internal:5432"), std::string::npos)
      << r.err;
}

TEST_F(CheckConnectCliTest, PlainCheckProbesNothing) {
  const std::string handlers =
      "broken:\n  plugin: probed_sink\n  config: { problem: \"table t: gone\" }\n";
  const CommandResult r = check({}, write_config(spec_with(handlers)));
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.find("connections:"), std::string::npos) << r.out;
}

TEST_F(CheckConnectCliTest, UnreachableRedisIsAProblemUnderConnectOnly) {
  RoutesYaml spec = spec_with(kHandlers);
  spec.redis_url = "unix://" + dir_.file("no-redis.sock");
  const std::string config = write_config(spec);
  const CommandResult plain = check({}, config);
  EXPECT_EQ(plain.exit_code, 0) << plain;
  const CommandResult connect = check({"--connect"}, config);
  EXPECT_EQ(connect.exit_code, 1) << connect;
  EXPECT_NE(connect.err.find("no-redis.sock"), std::string::npos) << connect.err;
}

}  // namespace
}  // namespace switchyard::test
