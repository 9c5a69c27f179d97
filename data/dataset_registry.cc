#include "data/dataset_registry.h"

#include "absl/strings/str_join.h"

namespace tailor {

const std::vector<DatasetInfo>& Datasets() {
  static const auto* datasets = new std::vector<DatasetInfo>{
      {"fashion_mnist", TaskKind::kImageClassification, "/usr/share/datasets/fashion-mnist",
       false},
      // One client per fortune file (data/text_dataset.h: LoadFortunes).
      {"fortunes", TaskKind::kCausalLanguageModel, "/usr/share/games/fortunes", true},
      // Bring your own: a directory of text files, one user per file; JSONL with user and text.
      {"text_dir", TaskKind::kCausalLanguageModel, "", true},
      {"text_jsonl", TaskKind::kCausalLanguageModel, "", true},
      // Simulated users judging fortunes (data/simulated_users.h); your own users' pairs.
      {"preference_fortunes", TaskKind::kPairwisePreference, "/usr/share/games/fortunes", false,
       true},
      {"preference_jsonl", TaskKind::kPairwisePreference, "", false, true},
  };
  return *datasets;
}

const DatasetInfo* FindDataset(const std::string& name) {
  for (const DatasetInfo& d : Datasets()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string DatasetNames() {
  return absl::StrJoin(Datasets(), ", ",
                       [](std::string* out, const DatasetInfo& d) { out->append(d.name); });
}

}  // namespace tailor
