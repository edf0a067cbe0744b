// contract_test.cc: ContractSet: schema loading errors, exact violation reasons, thread safety,
// pipeline wiring.
#include "contracts/contract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "dispatch/pipeline.h"
#include "support/temp_dir.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const char kQuoteSchema[] = R"({
  "type": "object",
  "required": ["quote_id", "qty"],
  "properties": {
    "quote_id": {"type": "integer", "minimum": 1},
    "qty": {"type": "integer", "minimum": 1},
    "status": {"enum": ["new", "sent"]},
    "note": {"type": ["string", "null"]},
    "lines": {"type": "array", "items": {"$ref": "#/definitions/line"}}
  },
  "definitions": {
    "line": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}},
             "additionalProperties": false}
  }
})";

ContractSet quote_contract() {
  ContractSet set;
  Status s = ContractSet::compile("quote.created", kQuoteSchema, "quote.json", &set);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return set;
}

// The reason payload is refused for event quote.created ("" when it passes).
std::string violation(const std::string& payload) {
  static const ContractSet set = quote_contract();
  std::string reason;
  if (set.check("quote.created", payload, &reason)) return "";
  EXPECT_FALSE(reason.empty());
  return reason;
}

// The error compiling schema gives ("" when it compiles).
std::string schema_error(const std::string& schema) {
  ContractSet set;
  Status s = ContractSet::compile("quote.created", schema, "q.json", &set);
  if (s.is_ok()) return "";
  EXPECT_THAT(s.message(), StartsWith("contract quote.created: schema q.json "));
  return s.message();
}

TEST(ContractTest, ConformingPayloadsPass) {
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":2})"), "");
  // Producers may add fields: the payload object is open unless the schema closes it.
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":2,"extra":{"x":[1,2]},"note":null})"), "");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":2,"lines":[{"sku":"a"},{"sku":"b"}]})"), "");
}

TEST(ContractTest, EventWithoutContractAlwaysPasses) {
  const ContractSet set = quote_contract();
  std::string reason;
  EXPECT_TRUE(set.check("user.registered", R"({"anything":true})", &reason));
  EXPECT_TRUE(reason.empty());
  EXPECT_TRUE(set.has("quote.created"));
  EXPECT_FALSE(set.has("quote.*"));
  EXPECT_TRUE(ContractSet().empty());
}

TEST(ContractTest, WrongTypeNamesTheFieldExpectedAndFound) {
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":"4"})"),
            "contract quote.created: #/qty: expected type integer, found string");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":4.5})"),
            "contract quote.created: #/qty: expected type integer, found number");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":1,"note":7})"),
            "contract quote.created: #/note: expected type string or null, found integer");
}

TEST(ContractTest, MissingRequiredPropertyIsNamed) {
  EXPECT_EQ(violation(R"({"qty":4})"),
            "contract quote.created: #/quote_id: required property is missing");
  EXPECT_EQ(violation(R"({"quote_id":4})"),
            "contract quote.created: #/qty: required property is missing");
}

TEST(ContractTest, OtherKeywordsQuoteTheSchema) {
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":0})"),
            "contract quote.created: #/qty: fails \"minimum\": 1 (schema #/properties/qty)");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":1,"status":"lost"})"),
            "contract quote.created: #/status: not one of the values of \"enum\" (schema "
            "#/properties/status)");
}

TEST(ContractTest, NestedFieldsThroughRefAndArrays) {
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":1,"lines":[{"sku":"a"},{"sku":5}]})"),
            "contract quote.created: #/lines/1/sku: expected type string, found integer");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":1,"lines":[{}]})"),
            "contract quote.created: #/lines/0/sku: required property is missing");
  EXPECT_EQ(violation(R"({"quote_id":1,"qty":1,"lines":[{"sku":"a","price":3}]})"),
            "contract quote.created: #/lines/0/price: property is not allowed "
            "(additionalProperties)");
}

TEST(ContractTest, PointerEscapesHostileFieldNames) {
  // Field names come from the message: they are escaped, never copied raw into the reason.
  const std::string reason =
      violation("{\"quote_id\":1,\"qty\":1,\"lines\":[{\"sku\":\"a\",\"a/b~\\n\":1}]}");
  EXPECT_EQ(reason,
            "contract quote.created: #/lines/0/a~1b~0%0A: property is not allowed "
            "(additionalProperties)");
}

TEST(ContractTest, PayloadThatIsNotAnObject) {
  EXPECT_EQ(violation("[]"), "contract quote.created: #: expected type object, found array");
}

TEST(ContractTest, ConcurrentChecksShareOneCompiledSchema) {
  const ContractSet set = quote_contract();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string reason;
        const bool good = (i + t) % 2 == 0;
        const std::string payload =
            good ? R"({"quote_id":1,"qty":3})" : R"({"quote_id":1,"qty":"x"})";
        if (set.check("quote.created", payload, &reason) != good) ++failures;
        if (!good && reason != "contract quote.created: #/qty: expected type integer, found string")
          ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ContractTest, InvalidSchemasAreRefusedWithTheReason) {
  EXPECT_THAT(schema_error("{\"type\": "), HasSubstr("invalid JSON at offset"));
  EXPECT_THAT(schema_error("[1]"), HasSubstr("expected an object, found array"));
  EXPECT_THAT(schema_error(R"({"type": "integr"})"),
              HasSubstr("#/type: not a JSON Schema type (array, boolean, integer"));
  EXPECT_THAT(schema_error(R"({"properties": {"qty": {"minimum": "1"}}})"),
              HasSubstr("#/properties/qty/minimum: expected type number, found string"));
  EXPECT_THAT(schema_error(R"({"required": "qty"})"),
              HasSubstr("is not a valid JSON Schema (draft-04): #/required"));
}

TEST(ContractTest, TyposAndLaterDraftKeywordsAreRefusedNotIgnored) {
  EXPECT_THAT(schema_error(R"({"requird": ["qty"]})"),
              HasSubstr("#/requird: \"requird\" is not a JSON Schema draft-04 keyword"));
  EXPECT_THAT(schema_error(R"({"properties": {"qty": {"const": 1}}})"),
              HasSubstr("#/properties/qty/const: \"const\" is not"));
  EXPECT_THAT(schema_error(R"({"$schema": "http://json-schema.org/draft-07/schema#"})"),
              HasSubstr("only JSON Schema draft-04 is supported"));
  // Property names are data, not keywords.
  EXPECT_EQ(schema_error(R"({"properties": {"const": {"type": "string"}, "$ref": {}}})"), "");
}

TEST(ContractTest, RefsMustBeLocalResolvableAndAcyclic) {
  EXPECT_THAT(schema_error(R"({"$ref": "http://example.com/s.json"})"),
              HasSubstr("is not a local reference"));
  EXPECT_THAT(schema_error(R"({"$ref": "other.json#/a"})"), HasSubstr("is not a local reference"));
  EXPECT_THAT(schema_error(R"({"properties": {"a": {"$ref": "#/definitions/missing"}}})"),
              HasSubstr("does not point at a schema object"));
  EXPECT_THAT(schema_error(R"({"definitions": {"b": {"type": "string"}},
                               "properties": {"a": {"$ref": "#/definitions/b/type"}}})"),
              HasSubstr("#/properties/a/$ref: \"$ref\": \"#/definitions/b/type\" does not point "
                        "at a schema object"));
  // RapidJSON would recurse forever compiling these: refused before.
  EXPECT_THAT(schema_error(R"({"$ref": "#"})"), HasSubstr("cycle"));
  EXPECT_THAT(schema_error(R"({"definitions": {"a": {"$ref": "#/definitions/b"},
                                               "b": {"$ref": "#/definitions/a"}},
                               "properties": {"x": {"$ref": "#/definitions/a"}}})"),
              HasSubstr("cycle"));
  // A recursive schema (a ref to an ancestor) is fine.
  EXPECT_EQ(schema_error(R"({"type": "object",
                             "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}})"),
            "");
}

TEST(ContractTest, PatternsRapidJsonCannotCompileAreRefused) {
  EXPECT_THAT(schema_error(R"({"properties": {"id": {"pattern": "^\\d+$"}}})"),
              HasSubstr("#/properties/id/pattern: pattern \"^\\d+$\" is not supported"));
  EXPECT_THAT(schema_error(R"({"patternProperties": {"(": {}}})"),
              HasSubstr("#/patternProperties/(: pattern \"(\" is not supported"));
  EXPECT_EQ(schema_error(R"({"properties": {"id": {"pattern": "^[0-9]+$"}}})"), "");
  ContractSet set;
  ASSERT_TRUE(ContractSet::compile("e", R"({"properties": {"id": {"pattern": "^[0-9]+$"}}})",
                                   "p.json", &set)
                  .is_ok());
  std::string reason;
  EXPECT_FALSE(set.check("e", R"({"id":"12a"})", &reason));
  EXPECT_EQ(reason, "contract e: #/id: fails \"pattern\": \"^[0-9]+$\" (schema #/properties/id)");
}

TEST(ContractTest, HugeOrDeepSchemasAreRefused) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{\"not\":";
  deep += "{}";
  deep += std::string(200, '}');
  EXPECT_THAT(schema_error(deep), HasSubstr("nests deeper than 128 levels"));
  EXPECT_THAT(schema_error(std::string(2 * 1024 * 1024, ' ')), HasSubstr("over the limit"));
}

TEST(ContractTest, ExampleSchemaInTheRepositoryCompilesAndChecks) {
  Config config;
  config.path = "routes.yaml";
  config.contracts["quote.created"] =
      std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json";
  ContractSet set;
  Status s = ContractSet::load(config, &set);
  ASSERT_TRUE(s.is_ok()) << s.message();
  std::string reason;
  EXPECT_TRUE(set.check("quote.created",
                        R"({"quote_id":1,"user_id":2,"product_id":3,"qty":4,"created_at":"x"})",
                        &reason))
      << reason;
  EXPECT_FALSE(set.check("quote.created", R"({"quote_id":1,"user_id":2,"product_id":3})", &reason));
  EXPECT_EQ(reason, "contract quote.created: #/qty: required property is missing");
}

// The config as `check` and `run` build it: errors carry the contract entry's file:line:col.
class ContractConfigTest : public ::testing::Test {
 protected:
  Status build(const std::string& contracts_yaml, std::shared_ptr<const Pipeline>* out) {
    auto config = std::make_shared<Config>();
    const std::string yaml =
        "version: 1\nsources:\n  events: {key: events}\ncontracts:\n" + contracts_yaml;
    Status s = load_config_from_string(yaml, dir_.file("routes.yaml"), dir_.path(), config.get());
    if (!s) return s;
    return build_pipeline(config, dir_.path(), nullptr, out, true);
  }
  test::TempDir dir_;
};

TEST_F(ContractConfigTest, MissingSchemaFileNamesEntryPositionAndFile) {
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build("  quote.created: schemas/absent.json\n", &pipeline);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.message(), dir_.file("routes.yaml") + ":5:18: contract quote.created: schema " +
                             dir_.file("schemas/absent.json") +
                             ": cannot read it (No such file or directory)");
}

TEST_F(ContractConfigTest, InvalidSchemaNamesEntryPositionAndFile) {
  dir_.write("bad.json", R"({"type": "integr"})");
  dir_.write("good.json", R"({"type": "object"})");
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build("  user.registered: good.json\n  quote.created: bad.json\n", &pipeline);
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), StartsWith(dir_.file("routes.yaml") +
                                      ":6:18: contract quote.created: "
                                      "schema " +
                                      dir_.file("bad.json") + " is not a valid"));
}

TEST_F(ContractConfigTest, GlobKeysAreRefused) {
  dir_.write("q.json", R"({"type": "object"})");
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build("  \"quote.*\": q.json\n", &pipeline);
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), HasSubstr(":5:14: contract quote.*: a contract applies to one exact"));
}

TEST_F(ContractConfigTest, PipelineHoldsTheCompiledContracts) {
  dir_.write("q.json", kQuoteSchema);
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build("  quote.created: q.json\n", &pipeline);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(pipeline->contracts.size(), 1u);
  std::string reason;
  EXPECT_FALSE(pipeline->contracts.check("quote.created", R"({"qty":1})", &reason));
  EXPECT_EQ(reason, "contract quote.created: #/quote_id: required property is missing");
}

}  // namespace
}  // namespace switchyard
