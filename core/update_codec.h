// Update codecs: how a client compresses its shared update Δ for upload, and how the coordinator
// expands and validates what arrives. The wire form is an ordinary parameter set (TLPS), so the
// streaming decoder, its size limits and the content checks apply unchanged; per tensor N of
// the shared schema it holds exactly one of
//
//   none   N                       the schema's dtype, dense                   4 B/value
//   fp16   N  float16              IEEE binary16, round to nearest even        2 B/value
//   bf16   N  bfloat16             float32's upper half, round to nearest even 2 B/value
//   int8   N#q8  int8, N's shape    unbiased stochastic rounding to 256 levels ~1 B/value
//          N#q8.scale float32 [blocks, 2]   per block of 1024: (minimum, step)
//   topk   N#topk.idx int32 [k]      the k largest |values| (k = ceil(fraction·numel)),
//          N#topk.val  N's dtype [k] indices strictly increasing             8 B/sent value
//
// Top-k uses error feedback (Stich et al. 2018; Karimireddy et al. 2019): what a round did not
// send is kept on the device and added to the next round's update, so nothing is lost, only
// delayed. int8 is unbiased: E[decoded] = Δ (Alistarh et al.'s QSGD with 256 uniform levels per
// block). The coordinator accepts any of the forms above for any tensor (the codec is the
// client's choice for its bandwidth) and refuses anything else by name.
#ifndef TAILOR_CORE_UPDATE_CODEC_H_
#define TAILOR_CORE_UPDATE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

struct UpdateCodecOptions {
  // "none", "fp16", "bf16", "int8" or "topk".
  std::string name = "none";
  // topk: the share of each tensor's values sent per round, in (0, 1].
  double topk_fraction = 0.01;
};

// INVALID_ARGUMENT naming the bad field.
absl::Status ValidateUpdateCodec(const UpdateCodecOptions& options);

// Compresses `update` (float32/float64 tensors). int8's random rounding is drawn from `seed`.
// topk: when `residual` is non-null it is the error-feedback memory (empty = zeros; otherwise
// the update's schema), added before selection and left holding what was not sent.
// INVALID_ARGUMENT for a value fp16 cannot represent or a tensor too large for int32 indices.
absl::StatusOr<ParameterSet> CompressUpdate(const ParameterSet& update,
                                            const UpdateCodecOptions& options, uint64_t seed,
                                            ParameterSet* residual);

// Expands the compressed tensors of a wire-form update to dense tensors of `schema`'s shape and
// dtype, or INVALID_ARGUMENT naming the first malformed one (wrong shape, an index out of range
// or out of order, a bad scale). Other entries pass through unchanged: CheckSharedUpdate then
// checks names, order, shapes and finiteness of the whole.
absl::StatusOr<ParameterSet> ExpandUpdate(ParameterSet wire, const ParameterSet& schema);

// float32 <-> the 16-bit formats, round to nearest even (exposed for tests).
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);
uint16_t FloatToBFloat16(float value);
float BFloat16ToFloat(uint16_t bf);

}  // namespace tailor

#endif  // TAILOR_CORE_UPDATE_CODEC_H_
