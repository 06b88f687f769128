#include "storage/random_ids.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>

namespace corvus::storage {
namespace {

std::array<unsigned char, 16> random_bytes() {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  std::array<unsigned char, 16> out{};
  std::lock_guard lock(mu);
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t v = gen();
    for (size_t j = 0; j < 8; ++j) out[i + j] = static_cast<unsigned char>(v >> (j * 8));
  }
  return out;
}

}  // namespace

std::string new_database_id() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto b = random_bytes();
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : b) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out.push_back(kAlphabet[(acc >> (bits - 6)) & 0x3f]);
      bits -= 6;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;  // 128 bits -> 22 characters, no padding
}

std::string new_guid() {
  auto b = random_bytes();
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return buf;
}

}  // namespace corvus::storage
