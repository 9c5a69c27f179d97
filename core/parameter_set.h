// ParameterSet: an ordered collection of named tensors (a model's parameters and buffers, or
// an update of some of them). Order is the model's registration order and is preserved by
// serialization, so two sets built from the same model line up index by index.
#ifndef TAILOR_CORE_PARAMETER_SET_H_
#define TAILOR_CORE_PARAMETER_SET_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/tensor.h"

namespace tailor {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class ParameterSet {
 public:
  ParameterSet() = default;

  // Appends a tensor. ALREADY_EXISTS if the name is taken; INVALID_ARGUMENT if empty.
  absl::Status Add(std::string name, Tensor tensor);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<NamedTensor>& entries() const { return entries_; }
  NamedTensor& entry(size_t i) { return entries_[i]; }
  const NamedTensor& entry(size_t i) const { return entries_[i]; }
  std::vector<std::string> names() const;

  // nullptr when absent.
  const Tensor* Find(const std::string& name) const;
  Tensor* FindMutable(const std::string& name);

  // Total elements / bytes over all tensors.
  int64_t TotalElements() const;
  size_t TotalBytes() const;

  // OK when `other` has exactly the same names in the same order with the same dtypes and
  // shapes; otherwise INVALID_ARGUMENT naming the first difference. `what` names `other`
  // in the message ("update", "checkpoint"...).
  absl::Status CheckSameSchema(const ParameterSet& other, const std::string& what) const;

  // Overwrites the values of each tensor of `values` whose name is in this set.
  // INVALID_ARGUMENT for a name that is absent or a layout that differs.
  absl::Status Assign(const ParameterSet& values);

  // OK when every floating value is finite; else INVALID_ARGUMENT naming the tensor.
  absl::Status CheckFinite() const;

  bool operator==(const ParameterSet& other) const;

 private:
  std::vector<NamedTensor> entries_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_PARAMETER_SET_H_
