// archive.cc: reading K:archive for tests.
#include "support/archive.h"

#include <stdexcept>

namespace switchyard::test {

std::vector<ArchivedMessage> archived(RedisClient& client, const std::string& archive_key) {
  std::vector<ArchivedMessage> out;
  std::string start = "-";
  while (true) {
    const Reply r = client.command({"XRANGE", archive_key, start, "+", "COUNT", "10000"});
    if (r.type != Reply::Type::kArray)
      throw std::runtime_error("XRANGE " + archive_key + ": " + r.describe());
    for (const Reply& e : r.elements) {
      ArchivedMessage m;
      m.id = e.elements.at(0).str;
      const std::vector<Reply>& fields = e.elements.at(1).elements;
      for (size_t f = 0; f + 1 < fields.size(); f += 2)
        if (fields[f].str == "m") m.message = fields[f + 1].str;
      out.push_back(std::move(m));
    }
    if (r.elements.size() < 10000) return out;
    start = "(" + out.back().id;
  }
}

std::vector<std::string> archived_messages(RedisClient& client, const std::string& archive_key) {
  std::vector<std::string> out;
  for (ArchivedMessage& m : archived(client, archive_key)) out.push_back(std::move(m.message));
  return out;
}

}  // namespace switchyard::test
