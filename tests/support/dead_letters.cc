// dead_letters.cc: K:dead elements decoded by the runtime's decode_dead_letter.
#include "support/dead_letters.h"

#include <stdexcept>

namespace switchyard::test {

DeadLetterView read_dead_letter(const std::string& raw) {
  DeadLetterView view;
  std::string error;
  if (!decode_dead_letter(raw, &view, &error)) {
    throw std::runtime_error("not a dead letter (" + error + "): " + raw.substr(0, 300));
  }
  view.raw = raw;
  return view;
}

std::vector<DeadLetterView> read_dead_letters(RedisClient& client, const std::string& dead_key) {
  std::vector<DeadLetterView> out;
  const std::vector<std::string> elements = client.lrange(dead_key);
  for (size_t i = 0; i < elements.size(); ++i) {
    try {
      out.push_back(read_dead_letter(elements[i]));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(dead_key + "[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return out;
}

}  // namespace switchyard::test
