// ack_writes.h: builds the ARGV tail that carries a batch's archive settings, dead letters and
// retries to an ack script (read there by write_ack_writes, source/lua/ack_writes.lua).
#ifndef SWITCHYARD_SOURCE_ACK_WRITES_H_
#define SWITCHYARD_SOURCE_ACK_WRITES_H_

#include <string>
#include <string_view>
#include <vector>

#include "source/source.h"

namespace switchyard {

// Appends to *args: the archive's retention in ms (0 when archive is off) and max_len, ndead, the
// dead letters in order, then (score, member) for each retry, the score being its due time in
// unix ms. Clears *numbers and keeps the numbers' text there.
// Ownership: the appended views point into `writes` and *numbers; both must outlive *args' use
// and stay unchanged meanwhile. Thread safety: pure; no errors.
void append_ack_writes(const ArchiveSettings& archive, const AckWrites& writes,
                       std::vector<std::string>* numbers, std::vector<std::string_view>* args);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_ACK_WRITES_H_
