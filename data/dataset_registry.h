// The datasets a config may name, with the task their examples are for and where Debian
// installs them. The config loader and BuildFederatedDataset both ask this list; a new dataset
// is a row here and a loader in data/, nothing in core/.
#ifndef TAILOR_DATA_DATASET_REGISTRY_H_
#define TAILOR_DATA_DATASET_REGISTRY_H_

#include <string>
#include <vector>

#include "core/task.h"

namespace tailor {

struct DatasetInfo {
  std::string name;
  TaskKind task;
  // data.path when the config leaves it empty; empty: the config must give one.
  std::string default_path;
  // The data is text split into users (data.text options apply; no image partition).
  bool text;
  // Users' pairwise preferences (data.preference options apply; no image partition).
  bool preference = false;
};

const std::vector<DatasetInfo>& Datasets();
// Null for an unknown name.
const DatasetInfo* FindDataset(const std::string& name);
// "fashion_mnist, fortunes, ..." for error messages.
std::string DatasetNames();

}  // namespace tailor

#endif  // TAILOR_DATA_DATASET_REGISTRY_H_
