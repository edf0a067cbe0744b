// ack_writes.cc: the ARGV tail of archive settings, dead letters and retries every ack script
// reads.
#include "source/ack_writes.h"

namespace switchyard {

void append_ack_writes(const ArchiveSettings& archive, const AckWrites& writes,
                       std::vector<std::string>* numbers, std::vector<std::string_view>* args) {
  numbers->clear();
  numbers->reserve(3 + writes.retries.size());  // no reallocation: args keeps views into it
  numbers->push_back(std::to_string(archive.on ? archive.retention.count() : 0));
  numbers->push_back(std::to_string(archive.on ? archive.max_len : 0));
  numbers->push_back(std::to_string(writes.dead_letters.size()));
  args->reserve(args->size() + 3 + writes.dead_letters.size() + 2 * writes.retries.size());
  for (const std::string& n : *numbers) args->push_back(n);
  for (const auto& d : writes.dead_letters) args->push_back(d);
  for (const auto& [due_ms, member] : writes.retries) {
    numbers->push_back(std::to_string(due_ms));
    args->push_back(numbers->back());
    args->push_back(member);
  }
}

}  // namespace switchyard
