// crc16.cc: CRC16 (XMODEM) and the Redis Cluster key slot, as the cluster specification defines.
#include "redis/crc16.h"

namespace switchyard {

uint16_t crc16_xmodem(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc = static_cast<uint16_t>(crc ^ (byte << 8));
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

std::string_view cluster_hash_tag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

bool has_cluster_hash_tag(std::string_view key) {
  return cluster_hash_tag(key).size() != key.size();
}

int cluster_key_slot(std::string_view key) {
  return crc16_xmodem(cluster_hash_tag(key)) % kClusterSlots;
}

}  // namespace switchyard
