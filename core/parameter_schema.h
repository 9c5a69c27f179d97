// ParameterSchema: the layout of a ParameterSet without its values (names in order, dtypes,
// shapes). Aggregators keep one per round to check updates against; holding a model-sized set
// of zeros for that would cost a model's memory and a pass to zero it every round.
#ifndef TAILOR_CORE_PARAMETER_SCHEMA_H_
#define TAILOR_CORE_PARAMETER_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/parameter_set.h"

namespace tailor {

class ParameterSchema {
 public:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    int64_t numel;
  };

  ParameterSchema() = default;
  static ParameterSchema Of(const ParameterSet& set);

  size_t size() const { return entries_.size(); }
  const Entry& entry(size_t i) const { return entries_[i]; }
  const std::vector<Entry>& entries() const { return entries_; }
  int64_t TotalElements() const;

  // OK when `other` has exactly these names in this order with these dtypes and shapes;
  // otherwise INVALID_ARGUMENT naming the first difference. `what` names `other` in the message.
  absl::Status Check(const ParameterSet& other, const std::string& what) const;

  // A set of this layout whose values are undefined, for outputs that overwrite every value.
  ParameterSet UninitializedSet() const;

 private:
  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_PARAMETER_SCHEMA_H_
