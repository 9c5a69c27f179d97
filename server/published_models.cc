#include "server/published_models.h"

namespace tailor {

const std::string& PublishedModels::Publish(std::shared_ptr<const ParameterSet> shared) {
  if (shared == current_set_) return current_;
  current_set_ = shared;
  auto model = std::make_shared<const SerializedParameterSet>(std::move(shared));
  const std::string sha = model->content_address();
  if (sha != current_) {
    for (auto it = versions_.begin(); it != versions_.end();) {
      it = it->first == current_ ? std::next(it) : versions_.erase(it);
    }
    versions_[sha] = std::move(model);
    current_ = sha;
  }
  return current_;
}

std::shared_ptr<const SerializedParameterSet> PublishedModels::Pin(
    std::shared_ptr<const ParameterSet> set) {
  auto model = std::make_shared<const SerializedParameterSet>(std::move(set));
  pinned_[model->content_address()] = model;
  return model;
}

std::shared_ptr<const SerializedParameterSet> PublishedModels::Find(const std::string& sha) const {
  if (auto it = versions_.find(sha); it != versions_.end()) return it->second;
  auto pinned = pinned_.find(sha);
  return pinned == pinned_.end() ? nullptr : pinned->second;
}

}  // namespace tailor
