// The arithmetic of secure aggregation (Bonawitz et al., CCS 2017, Fig. 4): a clipped update on
// a fixed-point grid as integers modulo 2^bits, the masks a client adds (a self mask from its
// own seed and a pairwise mask per peer, + for a higher id and - for a lower one), and what the
// coordinator removes after the round: every survivor's self mask (from the seeds the survivors
// reveal for it) and the survivors' pairwise masks with clients that dropped after sharing
// (from the dropped clients' reconstructed keys). Survivors' pairwise masks with each other
// cancel in the sum by themselves. Transport, sharing and who may ask for what are the
// protocol's; this is only the algebra, so it can be checked exactly.
#ifndef TAILOR_PRIVACY_SECAGG_MASKING_H_
#define TAILOR_PRIVACY_SECAGG_MASKING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "privacy/secagg_crypto.h"

namespace tailor {

// Integers modulo 2^bits holding coordinates on a grid: value v is round(v / grid), two's
// complement.
struct SecAggField {
  int bits = 0;
  double grid = 0;
};

// The smallest field in which the sum of `max_clients` updates of L2 norm <= clip_norm, each
// on `grid`, cannot wrap: every coordinate is within clip_norm / grid + 1/2 grid steps, so the
// sum's magnitude is below max_clients·(clip_norm / grid + 1), and one more bit holds the sign.
// INVALID_ARGUMENT when that needs more than 62 bits (the config could overflow: a coarser
// grid, a smaller clip norm or fewer clients fits) or for non-positive inputs.
absl::StatusOr<SecAggField> ChooseSecAggField(int64_t max_clients, double clip_norm, double grid);

// round(v / grid) modulo 2^bits per coordinate. INVALID_ARGUMENT for a value that is not finite
// or outside what the field was sized for (|v| > clip_norm is the caller's to prevent: clip
// first).
absl::StatusOr<std::vector<uint64_t>> EncodeOnGrid(absl::Span<const float> values,
                                                   const SecAggField& field, double clip_norm);
// A sum modulo 2^bits back to real values (the signed residue times the grid).
std::vector<double> DecodeSum(absl::Span<const uint64_t> sum, const SecAggField& field);

// A pairwise key with one peer (AgreeSessionKey's).
struct PeerKey {
  int64_t peer = 0;
  Key32 key{};
};

// Adds the client's masks to its encoded input in place: PRG(self_seed) and, per peer,
// +PRG(key) when the peer's id is higher than `me` and -PRG(key) when lower.
void AddMasks(int64_t me, const Key32& self_seed, absl::Span<const PeerKey> peers,
              const SecAggField& field, absl::Span<uint64_t> input);

// Adds `input` into `sum` modulo 2^bits (the coordinator's running sum of masked inputs).
void AddModulo(absl::Span<const uint64_t> input, const SecAggField& field, absl::Span<uint64_t> sum);

// One survivor's pairwise mask with a client that dropped after sharing, to be taken out.
struct DroppedPairMask {
  int64_t survivor = 0;
  int64_t dropped = 0;
  Key32 key{};  // their pairwise key, recomputed from the dropped client's reconstructed secret
};

// Removes from the sum of the survivors' masked inputs each survivor's self mask and each
// survivor's pairwise mask with a dropped client; what is left is the plain sum modulo 2^bits.
// Large sums are split across the cores (the result is the same for any split).
void RemoveMasks(absl::Span<const Key32> survivor_self_seeds,
                 absl::Span<const DroppedPairMask> dropped, const SecAggField& field,
                 absl::Span<uint64_t> sum);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_MASKING_H_
