#include "core/parameter_set.h"

#include "core/parameter_schema.h"

#include "absl/strings/str_cat.h"

namespace tailor {

absl::Status ParameterSet::Add(std::string name, Tensor tensor) {
  if (name.empty()) return absl::InvalidArgumentError("parameter name is empty");
  if (index_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("duplicate parameter name '", name, "'"));
  }
  index_.emplace(name, entries_.size());
  entries_.push_back({std::move(name), std::move(tensor)});
  return absl::OkStatus();
}

std::vector<std::string> ParameterSet::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

const Tensor* ParameterSet::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].tensor;
}

Tensor* ParameterSet::FindMutable(const std::string& name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].tensor;
}

int64_t ParameterSet::TotalElements() const {
  int64_t n = 0;
  for (const auto& e : entries_) n += e.tensor.numel();
  return n;
}

size_t ParameterSet::TotalBytes() const {
  size_t n = 0;
  for (const auto& e : entries_) n += e.tensor.byte_size();
  return n;
}

absl::Status ParameterSet::CheckSameSchema(const ParameterSet& other,
                                           const std::string& what) const {
  // One implementation of the check and its messages: the schema's.
  return ParameterSchema::Of(*this).Check(other, what);
}

absl::Status ParameterSet::Assign(const ParameterSet& values) {
  for (const auto& v : values.entries()) {
    Tensor* dst = FindMutable(v.name);
    if (dst == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no parameter named '", v.name, "'"));
    }
    if (!dst->SameLayout(v.tensor)) {
      return absl::InvalidArgumentError(absl::StrCat("parameter '", v.name, "' is ",
                                                     dst->Describe(), ", got ",
                                                     v.tensor.Describe()));
    }
    *dst = v.tensor;
  }
  return absl::OkStatus();
}

absl::Status ParameterSet::CheckFinite() const {
  for (const auto& e : entries_) {
    absl::Status s = e.tensor.CheckFinite();
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name, "': ", s.message()));
    }
  }
  return absl::OkStatus();
}

bool ParameterSet::operator==(const ParameterSet& other) const {
  if (size() != other.size()) return false;
  for (size_t i = 0; i < size(); ++i) {
    if (entries_[i].name != other.entries_[i].name) return false;
    if (!(entries_[i].tensor == other.entries_[i].tensor)) return false;
  }
  return true;
}

}  // namespace tailor
