// Every codec's expansion (fp16, bf16, int8, top-k) of a wire-form set: a malformed compressed
// tensor (wrong shape, an index out of range or order, a bad scale) is refused, and what
// expands has the schema's layout.
#include <string>

#include "core/serialization.h"
#include "core/update_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  static const ParameterSet* schema = new ParameterSet(fuzz::FuzzSchema());
  DecodeLimits limits;
  limits.max_tensors = 64;
  absl::StatusOr<ParameterSet> wire =
      DeserializeParameterSet(fuzz::DecodableBytes(data, size), limits);
  if (!wire.ok()) return 0;
  absl::StatusOr<ParameterSet> dense = ExpandUpdate(*std::move(wire), *schema);
  if (!dense.ok()) {
    FUZZ_CHECK(dense.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  // Expanded entries take the schema's layout; others pass through for the schema check.
  for (const auto& entry : dense->entries()) {
    const Tensor* want = schema->Find(entry.name);
    if (want != nullptr && entry.tensor.dtype() == want->dtype()) {
      (void)entry.tensor.MaxAbs();  // readable to its last byte
    }
  }
  return 0;
}
