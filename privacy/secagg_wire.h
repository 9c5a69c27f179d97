// Secure aggregation's messages (privacy/secagg_protocol.h) as tailor.v1 protobufs, the same
// bytes in a simulation and over the network. Every conversion from the wire checks sizes and
// counts and names what is wrong (INVALID_ARGUMENT); it never trusts a length it was sent.
#ifndef TAILOR_PRIVACY_SECAGG_WIRE_H_
#define TAILOR_PRIVACY_SECAGG_WIRE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "privacy/secagg_protocol.h"
#include "tailor/v1/coordinator.pb.h"

namespace tailor {

v1::SecAggAdvertisement ToProto(const KeyAdvertisement& ad);
absl::StatusOr<KeyAdvertisement> FromProto(const v1::SecAggAdvertisement& msg);

v1::SecAggSealedShares ToProto(const SealedShares& s);
SealedShares FromProto(const v1::SecAggSealedShares& msg);

v1::SecAggUnmaskResponse ToProto(const UnmaskResponse& r);
absl::StatusOr<UnmaskResponse> FromProto(int64_t client, const v1::SecAggUnmaskResponse& msg);

// Field words as little-endian bytes, as many a word as a `bits`-bit field needs (8 for the
// weighted mean's 64-bit field, 4 for a 32-bit one), and back (INVALID_ARGUMENT unless
// `expected` words arrive).
size_t SecAggWordBytes(int bits);
std::string PackWords(absl::Span<const uint64_t> words, int bits = 64);
absl::StatusOr<std::vector<uint64_t>> UnpackWords(const std::string& bytes, size_t expected,
                                                  int bits = 64);

// A serialized message parsed, or INVALID_ARGUMENT naming `what`.
template <typename Message>
absl::StatusOr<Message> ParseSecAgg(const std::string& bytes, const char* what) {
  Message m;
  if (!m.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(std::string("a malformed secure-aggregation ") + what);
  }
  return m;
}

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_WIRE_H_
