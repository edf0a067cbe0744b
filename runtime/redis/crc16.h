// crc16.h: Redis Cluster key slots: CRC16 (XMODEM) of the key or of its hash tag, modulo 16384.
// Thread safety: pure functions.
#ifndef SWITCHYARD_REDIS_CRC16_H_
#define SWITCHYARD_REDIS_CRC16_H_

#include <cstdint>
#include <string_view>

namespace switchyard {

inline constexpr int kClusterSlots = 16384;

// CRC16-CCITT as XMODEM computes it (polynomial 0x1021, initial value 0): "123456789" -> 0x31C3.
uint16_t crc16_xmodem(std::string_view data);

// The part of key that decides its slot: the text between the first '{' and the first '}'
// after it when that text is not empty, else the whole key ("{user1000}.following" ->
// "user1000"; "foo{}{bar}" -> the whole key).
std::string_view cluster_hash_tag(std::string_view key);

// True when key has a non-empty hash tag (cluster_hash_tag is then a part of it).
bool has_cluster_hash_tag(std::string_view key);

// The cluster slot of key: crc16_xmodem(cluster_hash_tag(key)) % 16384.
int cluster_key_slot(std::string_view key);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_CRC16_H_
