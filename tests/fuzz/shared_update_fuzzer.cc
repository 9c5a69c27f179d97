// Decoding and checking an uploaded shared update against the published schema: whatever
// arrives, an accepted update has exactly the schema's names, shapes and dtypes and only finite
// values.
#include <string>
#include <vector>

#include "core/wire_update.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  static const ParameterSet* schema = new ParameterSet(fuzz::FuzzSchema());
  const std::string bytes = fuzz::DecodableBytes(data, size);
  std::vector<double> max_abs;
  absl::StatusOr<ParameterSet> update = DecodeSharedUpdate(bytes, *schema, &max_abs);
  if (!update.ok()) {
    FUZZ_CHECK(update.status().code() == absl::StatusCode::kInvalidArgument ||
               update.status().code() == absl::StatusCode::kDataLoss);
    return 0;
  }
  FUZZ_CHECK(schema->CheckSameSchema(*update, "update").ok());
  FUZZ_CHECK(update->CheckFinite().ok());
  FUZZ_CHECK(max_abs.size() == update->size());
  for (size_t i = 0; i < update->size(); ++i) {
    FUZZ_CHECK(max_abs[i] == update->entry(i).tensor.MaxAbs());
  }
  return 0;
}
