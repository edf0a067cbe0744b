// redis_url_test.cc: parse_redis_url and redaction: accepted forms, errors, and passwords that
// never show (fuzz regressions).
#include "redis/redis_url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RedisEndpoint parse(const std::string& url) {
  RedisEndpoint ep;
  std::string error;
  EXPECT_TRUE(parse_redis_url(url, &ep, &error)) << url << ": " << error;
  return ep;
}

std::string error_of(const std::string& url) {
  RedisEndpoint ep;
  std::string error;
  EXPECT_FALSE(parse_redis_url(url, &ep, &error)) << url;
  return error;
}

TEST(RedisUrlTest, AcceptedForms) {
  RedisEndpoint a = parse("redis://127.0.0.1:6380/2");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 2);
  EXPECT_TRUE(a.user.empty());
  EXPECT_TRUE(a.password.empty());

  RedisEndpoint b = parse("redis://app:s3cret@[::1]/3");
  EXPECT_EQ(b.user, "app");
  EXPECT_EQ(b.password, "s3cret");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 6379);
  EXPECT_EQ(b.redacted(), "redis://app@[::1]:6379/3");

  RedisEndpoint c = parse("unix:///run/redis/redis.sock?db=4");
  EXPECT_TRUE(c.is_unix);
  EXPECT_EQ(c.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(c.db, 4);
  EXPECT_EQ(c.redacted(), "unix:///run/redis/redis.sock?db=4");

  RedisEndpoint d = parse("redis://u%40x:p%2Fw%3A@h/0");
  EXPECT_EQ(d.user, "u@x");
  EXPECT_EQ(d.password, "p/w:");
}

TEST(RedisUrlTest, AclUserOverUnixSocket) {
  RedisEndpoint a = parse("unix://switchyard@/run/redis/redis.sock?db=2");
  EXPECT_TRUE(a.is_unix);
  EXPECT_EQ(a.user, "switchyard");
  EXPECT_TRUE(a.password.empty());
  EXPECT_EQ(a.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(a.db, 2);
  EXPECT_EQ(a.redacted(), "unix://switchyard@/run/redis/redis.sock?db=2");

  RedisEndpoint b = parse("unix://sy:pa%40ss@/tmp/r.sock");
  EXPECT_EQ(b.user, "sy");
  EXPECT_EQ(b.password, "pa@ss");
  EXPECT_EQ(b.redacted(), "unix://sy@/tmp/r.sock");
  EXPECT_EQ(redact_redis_url("unix://sy:hunter2@/tmp/r.sock"), "unix://sy:***@/tmp/r.sock");
  EXPECT_THAT(error_of("unix://sy:hunter2@/tmp/r.sock?db=x"), Not(HasSubstr("hunter2")));
  // Without a user the path is taken as it is, '@' included.
  EXPECT_EQ(parse("unix:///tmp/a@/r.sock").socket_path, "/tmp/a@/r.sock");
  EXPECT_THAT(error_of("unix://sy@relative.sock"), HasSubstr("must be absolute"));
}

TEST(RedisUrlTest, ErrorsSayWhatIsWrong) {
  EXPECT_THAT(error_of("rediss://h/0"), HasSubstr("unsupported scheme"));
  EXPECT_THAT(error_of("redis://h:99999/0"), HasSubstr("port must be a number"));
  EXPECT_THAT(error_of("redis://h/abc"), HasSubstr("database after / must be a number"));
  EXPECT_THAT(error_of("unix://relative.sock"), HasSubstr("must be absolute"));
  EXPECT_THAT(error_of("redis://"), HasSubstr("host is missing"));
}

// Fuzz regression (tests/fuzz/regressions/redis_url/password-with-slash): a password holding an
// unescaped '/' was cut at the '/', the rest read as the address, and the error then quoted the
// whole URL unredacted, password included.
TEST(RedisUrlTest, PasswordWithSlashIsTakenWholeAndNeverShown) {
  RedisEndpoint ep = parse("redis://u:pa/ss@h:1/2");
  EXPECT_EQ(ep.user, "u");
  EXPECT_EQ(ep.password, "pa/ss");
  EXPECT_EQ(ep.host, "h");
  EXPECT_EQ(ep.port, 1);
  EXPECT_EQ(ep.db, 2);
  EXPECT_EQ(redact_redis_url("redis://u:pa/ss@h/0"), "redis://u:***@h/0");

  const std::string error = error_of("redis://u:Zq7/Secret@h:0/0");
  EXPECT_THAT(error, Not(HasSubstr("Secret")));
  EXPECT_THAT(error, HasSubstr("\"redis://...\" (the URL given, redacted)"));
  EXPECT_THAT(error_of("redis://u:Zq7/Secret@/0"), Not(HasSubstr("Secret")));
}

TEST(RedisUrlTest, PasswordWithAtSignIsTakenWhole) {
  RedisEndpoint ep = parse("redis://u:p@ss@h/0");
  EXPECT_EQ(ep.password, "p@ss");
  EXPECT_EQ(ep.host, "h");
  EXPECT_EQ(redact_redis_url("redis://u:p@ss@h/0"), "redis://u:***@h/0");
}

TEST(RedisUrlTest, RedactionNeverShowsThePassword) {
  for (const std::string url :
       {"redis://:hunter2@h", "redis://u:hunter2@h:1/0", "redis://u:hunter2@",
        "redis://u:hunter2@h:x/0", "redis://u:hun/ter2@h/0", "redis://u:hunter2@h/0@x"}) {
    EXPECT_THAT(redact_redis_url(url), Not(HasSubstr("hunter2"))) << url;
    EXPECT_THAT(redact_redis_url(url), Not(HasSubstr("ter2"))) << url;
    RedisEndpoint ep;
    std::string error;
    if (parse_redis_url(url, &ep, &error)) {
      EXPECT_THAT(ep.redacted(), Not(HasSubstr("ter2"))) << url;
    } else {
      EXPECT_THAT(error, Not(HasSubstr("ter2"))) << url;
    }
  }
}

// A URL mistyped without "://" is still echoed without its password.
TEST(RedisUrlTest, MistypedSchemeIsRedactedToo) {
  EXPECT_EQ(redact_redis_url("redis:/u:hunter2@h:6379"), "redis:***@h:6379");
  EXPECT_EQ(redact_redis_url("u:hunter2@h"), "u:***@h");
  EXPECT_EQ(redact_redis_url("redis//:hunter2@h"), "redis//:***@h");
  EXPECT_EQ(redact_redis_url("localhost:6379"), "localhost:6379");  // no '@': nothing secret
  RedisEndpoint ep;
  std::string error;
  EXPECT_FALSE(parse_redis_url("redis:/u:hunter2@h", &ep, &error));
  EXPECT_THAT(error, Not(HasSubstr("hunter2")));
}

// Found by secrets_test: CLI11 quotes unexpected arguments ("switchyard version --redis URL"),
// password included; main() redacts its error text with this.
TEST(RedisUrlTest, UrlsInFreeTextAreRedactedWordByWord) {
  EXPECT_EQ(redact_redis_urls_in("The following arguments were not expected: redis://:pw1@h:1/0 "
                                 "--redis=redis://u:pw2@h/0 unix:///s.sock\nRun with --help"),
            "The following arguments were not expected: redis://:***@h:1/0 "
            "--redis=redis://u:***@h/0 unix:///s.sock\nRun with --help");
  EXPECT_EQ(redact_redis_urls_in("  two  spaces\t"), "  two  spaces\t");
  EXPECT_EQ(redact_redis_urls_in(""), "");
}

// A URL that does not parse may be a pasted password, or hold one where it is not expected
// (a query parameter): its error shows no more than the scheme.
TEST(RedisUrlTest, UnparsedUrlIsShownOnlyUpToItsScheme) {
  for (const std::string url :
       {"S3cr3tPW", "unix:///x.sock?db=1&password=S3cr3tPW", "redis://h:S3cr3tPW/0",
        "redis://S3cr3tPW:1/x", "rediss://u:S3cr3tPW@h/0", "unix://S3cr3tPW"}) {
    const std::string error = error_of(url);
    EXPECT_THAT(error, Not(HasSubstr("S3cr3tPW"))) << url;
    EXPECT_THAT(error, HasSubstr("(the URL given, redacted)")) << url;
  }
  EXPECT_THAT(error_of("unix:///x.sock?db=1&password=S3cr3tPW"), HasSubstr("\"unix://...\""));
  EXPECT_THAT(error_of("S3cr3tPW"), HasSubstr("unsupported scheme"));
}

TEST(RedisUrlTest, PasswordQueryParameterIsRedacted) {
  EXPECT_EQ(redact_redis_url("unix:///x.sock?db=1&password=S3cr3tPW"),
            "unix:///x.sock?db=1&password=***");
  EXPECT_EQ(redact_redis_url("redis://h/0?password=S3cr3tPW&db=2"),
            "redis://h/0?password=***&db=2");
  EXPECT_EQ(redact_redis_urls_in("not expected: unix:///s?password=S3cr3tPW"),
            "not expected: unix:///s?password=***");
}

TEST(RedisUrlTest, PercentEscapesMustBeTwoHexDigits) {
  EXPECT_THAT(error_of("redis://u:%-1@h/0"), HasSubstr("bad %-escape"));
  EXPECT_THAT(error_of("redis://u:%+F@h/0"), HasSubstr("bad %-escape"));
  EXPECT_THAT(error_of("redis://u:%4@h/0"), HasSubstr("bad %-escape"));
  EXPECT_EQ(parse("redis://u:%41@h/0").password, "A");
}

}  // namespace
}  // namespace switchyard
