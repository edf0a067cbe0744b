// ack_writes.cc: the ARGV tail of dead letters and retries that every ack script reads.
#include "source/ack_writes.h"

namespace switchyard {

void append_ack_writes(const AckWrites& writes, std::vector<std::string>* numbers,
                       std::vector<std::string_view>* args) {
  numbers->clear();
  numbers->reserve(1 + writes.retries.size());  // no reallocation: args keeps views into it
  numbers->push_back(std::to_string(writes.dead_letters.size()));
  args->reserve(args->size() + 1 + writes.dead_letters.size() + 2 * writes.retries.size());
  args->push_back(numbers->back());
  for (const auto& d : writes.dead_letters) args->push_back(d);
  for (const auto& [due_ms, member] : writes.retries) {
    numbers->push_back(std::to_string(due_ms));
    args->push_back(numbers->back());
    args->push_back(member);
  }
}

}  // namespace switchyard
