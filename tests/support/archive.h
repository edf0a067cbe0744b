// archive.h: reads a source's archive stream K:archive (README "History: archive, backfill,
// replay") for tests and the bench. Part of the test kit (no GTest).
// Thread safety: uses the caller's client. Errors: Redis errors throw std::runtime_error.
#ifndef SWITCHYARD_TESTS_SUPPORT_ARCHIVE_H_
#define SWITCHYARD_TESTS_SUPPORT_ARCHIVE_H_

#include <string>
#include <vector>

#include "support/redis_client.h"

namespace switchyard::test {

// One archive entry: its id and the archived message bytes (field m).
struct ArchivedMessage {
  std::string id;
  std::string message;
};

// Every entry of the stream archive_key in id order (read in chunks); empty when it is missing.
std::vector<ArchivedMessage> archived(RedisClient& client, const std::string& archive_key);

// The archived messages alone, in id order.
std::vector<std::string> archived_messages(RedisClient& client, const std::string& archive_key);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_ARCHIVE_H_
