#include "tests/fuzz/fuzz_util.h"

namespace tailor::fuzz {

ParameterSet FuzzSchema() {
  ParameterSet schema;
  schema.Add("w", Tensor::FromFloats({3, 2}, {0.5f, -1, 2, 0, 1e-3f, 7})).IgnoreError();
  schema.Add("b", Tensor::FromFloats({2}, {0.25f, -0.25f})).IgnoreError();
  return schema;
}

}  // namespace tailor::fuzz
