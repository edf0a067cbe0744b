// refusal_advice_test.cc: which Redis error replies are refusals of all writes (with what to do),
// whether quoted at the start of a reply or inside a message of the redis layer.
#include <gtest/gtest.h>

#include <string>

#include "redis/redis_connection.h"

namespace switchyard {
namespace {

TEST(RefusalAdviceTest, WritesRefusedAsAWholeSayWhatToDo) {
  const char* oom = redis_refusal_advice(
      "OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:8.");
  ASSERT_NE(oom, nullptr);
  EXPECT_NE(std::string(oom).find("CONFIG SET maxmemory"), std::string::npos);
  for (const char* reply :
       {"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist",
        "READONLY You can't write against a read only replica.",
        "NOREPLICAS Not enough good replicas to write.",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "BUSY Redis is busy running a script.", "LOADING Redis is loading the dataset in memory",
        "NOPERM this user has no permissions to run the 'evalsha' command"})
    EXPECT_NE(redis_refusal_advice(reply), nullptr) << reply;
  // Quoted by the redis layer: "Redis ADDRESS: WHAT failed: REPLY".
  EXPECT_NE(redis_refusal_advice("Redis unix:///r.sock: script on events failed: OOM command not "
                                 "allowed when used memory > 'maxmemory'."),
            nullptr);
}

TEST(RefusalAdviceTest, AKeysOwnProblemOrAnotherWordIsNoRefusal) {
  for (const char* reply :
       {"WRONGTYPE Operation against a key holding the wrong kind of value", "ERR unknown command",
        "BUSYKEY Target key name already exists.", "NOSCRIPT No matching script.",
        "Redis unix:///r.sock: script on BOOMING failed: ERR x",
        "Redis unix:///r.sock: cannot connect: Connection refused"})
    EXPECT_EQ(redis_refusal_advice(reply), nullptr) << reply;
}

}  // namespace
}  // namespace switchyard
