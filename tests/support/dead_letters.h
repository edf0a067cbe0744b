// dead_letters.h: reads K:dead with the runtime's own decoder (test kit, no GTest).
#ifndef SWITCHYARD_TESTS_SUPPORT_DEAD_LETTERS_H_
#define SWITCHYARD_TESTS_SUPPORT_DEAD_LETTERS_H_

#include <string>
#include <vector>

#include "records/dead_letter.h"
#include "support/redis_client.h"

namespace switchyard::test {

// One element of K:dead: the record as decode_dead_letter() reads it (message holds the exact
// bytes, from "message_base64" when the message was not UTF-8; handler is nullopt for null),
// plus the stored JSON for failure messages.
struct DeadLetterView : DeadLetter {
  std::string raw;
};

// Decodes one K:dead element. Throws std::runtime_error with the decoder's reason and the
// element (its first 300 bytes) when it is not a dead letter. Thread safety: reentrant.
DeadLetterView read_dead_letter(const std::string& raw);

// Every element of the list `dead_key` (LRANGE 0 -1), oldest first, decoded as above; the error
// of an element that does not decode names the key and the index. Throws std::runtime_error on
// Redis errors too. Thread safety: as `client`.
std::vector<DeadLetterView> read_dead_letters(RedisClient& client, const std::string& dead_key);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_DEAD_LETTERS_H_
