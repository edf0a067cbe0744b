// sql_sink_mapping_test.cc: sql_sink's mapping, loaded by the real host, with no database at all:
// config mistakes named by key at creation, payload type errors rejected with pointer and column
// before any SQL, and an unreachable database answered with retry. (Real servers:
// tests/integration/db.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "plugin_host/handler_instance.h"
#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::describe;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class SqlSinkMappingTest : public ::testing::Test {
 protected:
  // The config with `columns` and the other keys as given (JSON members without braces).
  std::string config(const std::string& members) const {
    return "{\"url\":\"postgresql://x@/a?host=" + dir_.path() + "\"," + members + "}";
  }
  static std::string columns() {
    return R"("table":"quotes","key":["quote_id"],"columns":{)"
           R"("quote_id":{"from":"/quote_id","type":"bigint"},)"
           R"("qty":{"from":"/line/qty","type":"smallint"},)"
           R"("at":{"from":"/at","type":"timestamptz","optional":true},)"
           R"("day":{"from":"/day","type":"date","optional":true},)"
           R"("id":{"from":"/id","type":"uuid","optional":true},)"
           R"("paid":{"from":"/paid","type":"boolean","optional":true}})";
  }
  // Creation's error ("" when it succeeds).
  std::string create_error(const std::string& config_json) {
    std::string error;
    auto library = PluginLibrary::load(test::bundled_plugin("sql_sink"), &error);
    if (!library) return "load: " + error;
    auto instance =
        HandlerInstance::create(library, "quotes_sql", config_json, dir_.path(), &error);
    return instance ? "" : error;
  }
  std::string outcome(const std::string& payload) {
    auto handler = test::create_handler(test::bundled_plugin("sql_sink"), "quotes_sql",
                                        config(columns()), dir_.path());
    if (!handler) return "no handler";
    test::EventBatch batch;
    batch.add("quote.created", payload);
    return describe(batch.run(*handler).at(0));
  }

  test::TempDir dir_;
};

TEST_F(SqlSinkMappingTest, ConfigMistakesAreNamedByKey) {
  EXPECT_EQ(create_error(config(columns())), "");  // the server is down: only a warning
  EXPECT_THAT(
      create_error(
          R"({"url":"redis://x","table":"t","key":["a"],"columns":{"a":{"from":"/a","type":"int"}}})"),
      AllOf(HasSubstr("config.url"), HasSubstr("postgresql://"), HasSubstr("mysql://")));
  EXPECT_THAT(
      create_error(config(
          R"("table":"quotes; drop","key":["a"],"columns":{"a":{"from":"/a","type":"int"}})")),
      HasSubstr("config.table"));
  EXPECT_THAT(
      create_error(config(R"("table":"t","key":["b"],"columns":{"a":{"from":"/a","type":"int"}})")),
      AllOf(HasSubstr("config.key"), HasSubstr("\"b\" is not one of the columns")));
  EXPECT_THAT(
      create_error(config(R"("table":"t","key":["a"],"columns":{"a":{"from":"a","type":"int"}})")),
      AllOf(HasSubstr("config.columns.a.from"), HasSubstr("JSON pointer")));
  EXPECT_THAT(create_error(config(
                  R"("table":"t","key":["a"],"columns":{"a":{"from":"/a","type":"varchar"}})")),
              AllOf(HasSubstr("config.columns.a.type"), HasSubstr("varchar"), HasSubstr("bigint")));
  EXPECT_THAT(
      create_error(config(
          R"("table":"t","key":["a"],"columns":{"a":{"from":"/a","type":"int","optional":true}})")),
      HasSubstr("cannot be optional"));
  EXPECT_THAT(create_error(config(
                  R"("table":"t","key":["a"],"columns":{"a b":{"from":"/a","type":"int"}})")),
              HasSubstr("config.columns.a b"));
  EXPECT_THAT(create_error(config(R"("password_env":"SY_NO_SUCH_VARIABLE",)" + columns())),
              AllOf(HasSubstr("SY_NO_SUCH_VARIABLE"), HasSubstr("is not set")));
  EXPECT_THAT(create_error(R"({"url":"mysql://root:pw@localhost/a",)" + columns() + "}"),
              AllOf(HasSubstr("contains a password"), ::testing::Not(HasSubstr("pw@"))));
}

TEST_F(SqlSinkMappingTest, PayloadTypeErrorsAreRejectedWithPointerAndColumn) {
  EXPECT_THAT(outcome(R"({"quote_id":1.5,"line":{"qty":1}})"),
              AllOf(StartsWith("REJECT"), HasSubstr("column quote_id (from \"/quote_id\")"),
                    HasSubstr("got a number")));
  EXPECT_THAT(outcome(R"({"quote_id":1,"line":{}})"),
              AllOf(StartsWith("REJECT"), HasSubstr("column qty (from \"/line/qty\")"),
                    HasSubstr("missing")));
  EXPECT_THAT(outcome(R"({"quote_id":1,"line":{"qty":40000}})"),
              AllOf(StartsWith("REJECT"), HasSubstr("40000 is out of range for smallint")));
  EXPECT_THAT(outcome(R"({"quote_id":1,"line":{"qty":1},"at":"2026-02-30T10:00:00Z"})"),
              AllOf(StartsWith("REJECT"), HasSubstr("column at"), HasSubstr("ISO 8601")));
  EXPECT_THAT(outcome(R"({"quote_id":1,"line":{"qty":1},"day":"2026-5-7"})"),
              AllOf(StartsWith("REJECT"), HasSubstr("column day"), HasSubstr("YYYY-MM-DD")));
  EXPECT_THAT(outcome(R"({"quote_id":1,"line":{"qty":1},"id":"not-a-uuid"})"),
              AllOf(StartsWith("REJECT"), HasSubstr("column id"), HasSubstr("UUID")));
  EXPECT_THAT(
      outcome(R"({"quote_id":1,"line":{"qty":1},"paid":"yes"})"),
      AllOf(StartsWith("REJECT"), HasSubstr("column paid"), HasSubstr("a boolean, got a string")));
}

TEST_F(SqlSinkMappingTest, AValidRowWithTheDatabaseDownIsRetriedWithItsText) {
  EXPECT_THAT(
      outcome(R"({"quote_id":1,"line":{"qty":1},"at":"2026-05-07T10:00:00.25-03:30",)"
              R"("day":"2024-02-29","id":"123e4567-e89b-12d3-a456-426614174000","paid":true})"),
      AllOf(StartsWith("RETRY"), HasSubstr("cannot connect to PostgreSQL for table quotes")));
}

}  // namespace
}  // namespace switchyard
