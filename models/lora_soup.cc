#include "models/lora_soup.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

// The adapter pairs' prefixes: "lora" and the personal "plora".
constexpr const char* kAdapters[] = {"lora", "plora"};

bool IsAdapter(const std::string& name) {
  for (const char* a : kAdapters) {
    if (absl::EndsWith(name, absl::StrCat(".", a, "_A")) ||
        absl::EndsWith(name, absl::StrCat(".", a, "_B"))) {
      return true;
    }
  }
  return false;
}

// out [o, i] += factor · B [o, r] · A [r, i].
absl::Status AddLowRank(const Tensor& a, const Tensor& b, double factor, const std::string& name,
                        Tensor* out) {
  const auto& w = out->shape();
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 ||
      out->dtype() != DType::kFloat32 || w.size() != 2 || a.shape().size() != 2 ||
      b.shape().size() != 2 || b.shape()[0] != w[0] || a.shape()[1] != w[1] ||
      a.shape()[0] != b.shape()[1]) {
    return absl::InvalidArgumentError(absl::StrCat("adapter of ", name, ": A ", a.Describe(),
                                                   " and B ", b.Describe(), " do not fit ",
                                                   out->Describe()));
  }
  const int64_t rows = w[0], cols = w[1], rank = a.shape()[0];
  absl::Span<const float> av = a.f32(), bv = b.f32();
  absl::Span<float> ov = out->f32();
  for (int64_t o = 0; o < rows; ++o) {
    for (int64_t r = 0; r < rank; ++r) {
      const double coeff = factor * bv[o * rank + r];
      if (coeff == 0) continue;
      const float* arow = av.data() + r * cols;
      float* orow = ov.data() + o * cols;
      for (int64_t i = 0; i < cols; ++i) orow[i] += static_cast<float>(coeff * arow[i]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParameterSet> MergeLoraExperts(absl::Span<const ParameterSet* const> experts,
                                              absl::Span<const double> weights, double scale) {
  if (experts.empty() || experts.size() != weights.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a soup needs one weight per expert, got ",
                                                   experts.size(), " experts and ",
                                                   weights.size(), " weights"));
  }
  if (!std::isfinite(scale)) return absl::InvalidArgumentError("the LoRA scale is not finite");
  for (size_t k = 0; k < weights.size(); ++k) {
    if (!(weights[k] >= 0) || !std::isfinite(weights[k])) {
      return absl::InvalidArgumentError(
          absl::StrCat("soup weight ", k, " must be finite and >= 0, got ", weights[k]));
    }
  }
  const ParameterSet& first = *experts[0];
  ParameterSet soup;
  for (const NamedTensor& e : first.entries()) {
    if (IsAdapter(e.name)) continue;
    // The experts share their base: it was frozen while each trained its adapters.
    for (size_t k = 1; k < experts.size(); ++k) {
      const Tensor* other = experts[k]->Find(e.name);
      if (other == nullptr || other->shape() != e.tensor.shape() ||
          other->dtype() != e.tensor.dtype() || other->byte_size() != e.tensor.byte_size() ||
          !std::equal(other->data(), other->data() + other->byte_size(), e.tensor.data())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "expert ", k, " has a different base tensor ", e.name, " than expert 0"));
      }
    }
    Tensor merged = e.tensor;
    const std::string suffix = ".weight";
    if (absl::EndsWith(e.name, suffix)) {
      const std::string module = e.name.substr(0, e.name.size() - suffix.size());
      for (size_t k = 0; k < experts.size(); ++k) {
        for (const char* adapter : kAdapters) {
          const Tensor* a = experts[k]->Find(absl::StrCat(module, ".", adapter, "_A"));
          const Tensor* b = experts[k]->Find(absl::StrCat(module, ".", adapter, "_B"));
          if ((a == nullptr) != (b == nullptr)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "expert ", k, " has only one of ", module, ".", adapter, "_A and _B"));
          }
          if (a == nullptr || weights[k] == 0) continue;
          absl::Status s = AddLowRank(*a, *b, weights[k] * scale, e.name, &merged);
          if (!s.ok()) return s;
        }
      }
    }
    absl::Status s = soup.Add(e.name, std::move(merged));
    if (!s.ok()) return s;
  }
  for (size_t k = 1; k < experts.size(); ++k) {
    if (experts[k]->size() != first.size()) {
      return absl::InvalidArgumentError(absl::StrCat("expert ", k, " has ", experts[k]->size(),
                                                     " tensors, expert 0 ", first.size()));
    }
  }
  return soup;
}

}  // namespace tailor
