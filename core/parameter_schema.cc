#include "core/parameter_schema.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tailor {
namespace {

std::string Describe(DType dtype, const std::vector<int64_t>& shape) {
  return absl::StrCat(DTypeName(dtype), "[", absl::StrJoin(shape, ","), "]");
}

}  // namespace

ParameterSchema ParameterSchema::Of(const ParameterSet& set) {
  ParameterSchema s;
  for (const auto& e : set.entries()) {
    s.index_[e.name] = s.entries_.size();
    s.entries_.push_back({e.name, e.tensor.dtype(), e.tensor.shape(), e.tensor.numel()});
  }
  return s;
}

int64_t ParameterSchema::TotalElements() const {
  int64_t n = 0;
  for (const Entry& e : entries_) n += e.numel;
  return n;
}

absl::Status ParameterSchema::Check(const ParameterSet& other, const std::string& what) const {
  for (size_t i = 0; i < other.size(); ++i) {
    const NamedTensor& got = other.entry(i);
    auto it = index_.find(got.name);
    if (it == index_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has unknown tensor '", got.name, "'"));
    }
    const Entry& want = entries_[it->second];
    if (got.tensor.dtype() != want.dtype || got.tensor.shape() != want.shape) {
      return absl::InvalidArgumentError(absl::StrCat(what, " tensor '", got.name, "' is ",
                                                     got.tensor.Describe(), ", expected ",
                                                     Describe(want.dtype, want.shape)));
    }
    if (it->second != i) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " tensor '", got.name, "' is out of order at position ", i));
    }
  }
  if (other.size() != entries_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is missing tensor '", entries_[other.size()].name, "'"));
  }
  return absl::OkStatus();
}

ParameterSet ParameterSchema::UninitializedSet() const {
  ParameterSet out;
  for (const Entry& e : entries_) (void)out.Add(e.name, Tensor::Uninitialized(e.dtype, e.shape));
  return out;
}

}  // namespace tailor
