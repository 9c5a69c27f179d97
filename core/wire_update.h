// The one place a client's shared update becomes bytes, and bytes become an update the
// coordinator accepts. Both transports (in-process simulation and gRPC) go through here.
//
// Invariant: EncodeSharedUpdate never emits a tensor the policy calls personal. This is the
// wire-level guarantee of DESIGN.md ("personal parameters are never serialized into any
// message"); tests/core/serialization_test.cc (WireUpdate.PersonalTensorIsNeverEncoded) and
// tests/core/update_codec_test.cc (every codec) prove it.
#ifndef TAILOR_CORE_WIRE_UPDATE_H_
#define TAILOR_CORE_WIRE_UPDATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"
#include "core/personalization_policy.h"

namespace tailor {

// FAILED_PRECONDITION (and nothing encoded) if any tensor of `update` is personal under
// `policy`.
absl::StatusOr<std::string> EncodeSharedUpdate(const ParameterSet& update,
                                               const PersonalizationPolicy& policy);

// Decodes an uploaded update, expands compressed tensors (core/update_codec.h) and checks it
// against the shared schema the coordinator published: the same names in order, dtypes and
// shapes, and only finite values.
// INVALID_ARGUMENT / DATA_LOSS with a message naming the offending tensor.
// When `max_abs` is non-null it receives each tensor's largest |value| (Tensor::MaxAbs), which
// the finiteness check computes anyway: the weighted mean uses it to admit the update without
// reading it again.
absl::StatusOr<ParameterSet> DecodeSharedUpdate(absl::string_view bytes,
                                                const ParameterSet& shared_schema,
                                                std::vector<double>* max_abs = nullptr);
// The same checks for an update decoded elsewhere (a ParameterSetDecoder fed by a stream); a
// decoding error passes through unchanged.
absl::StatusOr<ParameterSet> CheckSharedUpdate(absl::StatusOr<ParameterSet> decoded,
                                               const ParameterSet& shared_schema,
                                               std::vector<double>* max_abs = nullptr);

}  // namespace tailor

#endif  // TAILOR_CORE_WIRE_UPDATE_H_
