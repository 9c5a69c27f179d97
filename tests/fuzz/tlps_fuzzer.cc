// The TLPS decoder, whole and streamed: both agree on every input, never read out of bounds,
// and what decodes serializes back to the same bytes.
#include <string>

#include "core/serialization.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  if (size < 2) return 0;
  const size_t chunk = 1 + data[1] % 61;  // the stream's chunk size
  const std::string bytes = fuzz::DecodableBytes(data, size);
  DecodeLimits limits;
  limits.max_tensors = 64;
  limits.max_name_bytes = 64;
  absl::StatusOr<ParameterSet> whole = DeserializeParameterSet(bytes, limits);
  ParameterSetDecoder decoder(bytes.size(), limits);
  absl::Status appended;
  for (size_t at = 0; at < bytes.size() && appended.ok(); at += chunk) {
    appended = decoder.Append(absl::string_view(bytes).substr(at, chunk));
  }
  absl::StatusOr<ParameterSet> streamed =
      appended.ok() ? decoder.Finish() : absl::StatusOr<ParameterSet>(appended);
  FUZZ_CHECK(whole.ok() == streamed.ok());
  if (!whole.ok()) return 0;
  FUZZ_CHECK(*whole == *streamed);
  FUZZ_CHECK(SerializeParameterSet(*whole) == bytes);
  FUZZ_CHECK(decoder.content_address() == ContentAddressOf(bytes));
  return 0;
}
