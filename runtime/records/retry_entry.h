// retry_entry.h: one scheduled retry in K:retry (a sorted set scored by the next attempt time).
// Thread safety: value types and pure functions.
//
// Member format (binary-safe; the message is last and taken verbatim):
//   v1|<leases>|<attempt>|<first_failed_ms>|<nonce>|<handler>|<message bytes>
// leases counts how often the entry was leased for this attempt without being settled (a crash
// each time): past max_deliveries it is dead-lettered. The nonce keeps two retries of identical
// bytes distinct members.
#ifndef SWITCHYARD_RECORDS_RETRY_ENTRY_H_
#define SWITCHYARD_RECORDS_RETRY_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

struct RetryEntry {
  int leases = 0;
  int attempt = 1;              // the attempt number this entry will make (2 = first retry)
  int64_t first_failed_ms = 0;  // unix ms of the first failure
  std::string handler;
  std::string message;
};

std::string encode_retry_entry(const RetryEntry& entry);
// Returns false when member is not in the v1 format.
bool decode_retry_entry(std::string_view member, RetryEntry* entry);

}  // namespace switchyard

#endif  // SWITCHYARD_RECORDS_RETRY_ENTRY_H_
