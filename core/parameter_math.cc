#include "core/parameter_math.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

absl::Status CheckFloating(const NamedTensor& e) {
  if (!e.tensor.IsFloating()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name, "' is ",
                                                   DTypeName(e.tensor.dtype()),
                                                   "; arithmetic needs floating point"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParameterSet> Difference(ParameterSet after, const ParameterSet& before) {
  TAILOR_RETURN_IF_ERROR(before.CheckSameSchema(after, "parameters"));
  for (size_t i = 0; i < after.size(); ++i) {
    NamedTensor& a = after.entry(i);
    const Tensor& b = before.entry(i).tensor;
    TAILOR_RETURN_IF_ERROR(CheckFloating(a));
    if (a.tensor.dtype() == DType::kFloat32) {
      auto z = a.tensor.f32();
      auto y = b.f32();
      for (size_t j = 0; j < z.size(); ++j) z[j] -= y[j];
    } else {
      auto z = a.tensor.f64();
      auto y = b.f64();
      for (size_t j = 0; j < z.size(); ++j) z[j] -= y[j];
    }
  }
  return after;
}

absl::Status AddScaled(ParameterSet* dst, const ParameterSet& delta, double scale) {
  TAILOR_RETURN_IF_ERROR(dst->CheckSameSchema(delta, "delta"));
  for (size_t i = 0; i < delta.size(); ++i) {
    const NamedTensor& d = delta.entry(i);
    TAILOR_RETURN_IF_ERROR(CheckFloating(d));
    Tensor& t = dst->entry(i).tensor;
    if (t.dtype() == DType::kFloat32) {
      auto x = t.f32();
      auto y = d.tensor.f32();
      const float s = static_cast<float>(scale);
      for (size_t j = 0; j < x.size(); ++j) x[j] += s * y[j];
    } else {
      auto x = t.f64();
      auto y = d.tensor.f64();
      for (size_t j = 0; j < x.size(); ++j) x[j] += scale * y[j];
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> MergeInOrder(const ParameterSet& a, const ParameterSet& b,
                                          const std::vector<std::string>& order_like) {
  ParameterSet out;
  for (const std::string& name : order_like) {
    const Tensor* t = a.Find(name);
    const Tensor* u = b.Find(name);
    if (t != nullptr && u != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is in both parts"));
    }
    if (t == nullptr) t = u;
    if (t == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is in neither part"));
    }
    TAILOR_RETURN_IF_ERROR(out.Add(name, *t));
  }
  if (out.size() != a.size() + b.size()) {
    return absl::InvalidArgumentError("parts hold tensors the model does not have");
  }
  return out;
}

void Scale(ParameterSet* set, double factor) {
  for (size_t t = 0; t < set->size(); ++t) {
    Tensor& x = set->entry(t).tensor;
    if (x.dtype() == DType::kFloat32) {
      for (float& v : x.f32()) v = static_cast<float>(v * factor);
    } else if (x.dtype() == DType::kFloat64) {
      for (double& v : x.f64()) v *= factor;
    }
  }
}

double L2Norm(const ParameterSet& set) {
  double sum = 0;
  for (const auto& e : set.entries()) {
    if (e.tensor.dtype() == DType::kFloat32) {
      for (float v : e.tensor.f32()) sum += static_cast<double>(v) * v;
    } else if (e.tensor.dtype() == DType::kFloat64) {
      for (double v : e.tensor.f64()) sum += v * v;
    }
  }
  return std::sqrt(sum);
}

}  // namespace tailor
