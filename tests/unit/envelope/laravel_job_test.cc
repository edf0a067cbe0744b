// laravel_job_test.cc: a Laravel job payload is told apart from a raw event, and its dead-letter
// reason names the job and the queue to pushRaw() onto.
#include "envelope/laravel_job.h"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

const EnvelopeLimits kLimits{1 << 20, 64};

TEST(LaravelJob, AJobReplacesTheReasonWithOneNamingItAndTheQueue) {
  std::string reason = "missing \"event\" key";
  const std::string job = R"({"uuid":"u1","displayName":"App\\Jobs\\SendMail",)"
                          R"("job":"Illuminate\\Queue\\CallQueuedHandler@call","data":{}})";
  ASSERT_TRUE(explain_laravel_job(job, kLimits, "events", &reason));
  EXPECT_EQ(
      reason,
      "Laravel job payload (displayName App\\Jobs\\SendMail), not a raw event: publish events "
      "with Queue::connection('redis')->pushRaw(json_encode(['event' => ..., 'payload' => "
      "[...]]), 'events') instead of dispatching a job to this queue");
}

TEST(LaravelJob, ADisplayNameThatIsNoStringIsAQuestionMark) {
  std::string reason = "missing \"event\" key";
  ASSERT_TRUE(explain_laravel_job(R"({"uuid":"u","displayName":12,"job":"J","data":{}})", kLimits,
                                  "q", &reason));
  EXPECT_EQ(reason.rfind("Laravel job payload (displayName ?), not a raw event", 0), 0u) << reason;
}

TEST(LaravelJob, AnythingElseKeepsItsReason) {
  for (const char* message : {R"({"event":"a","payload":{}})", R"({"uuid":"u","job":"J"})",
                              "not json", "", R"([1,2])", R"({"uuid":1,"displayName":"X",)"}) {
    std::string reason = "the decoder's reason";
    EXPECT_FALSE(explain_laravel_job(message, kLimits, "q", &reason)) << message;
    EXPECT_EQ(reason, "the decoder's reason") << message;
  }
}

TEST(LaravelJob, AJobOverTheLimitsIsNotExplained) {
  const std::string job = R"({"uuid":"u","displayName":"X","job":"J","data":{"a":[[[1]]]}})";
  std::string reason = "too deep";
  EXPECT_FALSE(explain_laravel_job(job, {1 << 20, 3}, "q", &reason));
  EXPECT_FALSE(explain_laravel_job(job, {10, 64}, "q", &reason));
  EXPECT_EQ(reason, "too deep");
  EXPECT_TRUE(explain_laravel_job(job, kLimits, "q", &reason));
}

}  // namespace
}  // namespace switchyard
