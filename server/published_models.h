// PublishedModels: the model versions clients may fetch, by content address (the SHA-256 of
// their serialized bytes, which the client verifies). The current and the previous version are
// kept: a slow client may still be fetching the one before. A pinned set (the base model every
// client starts from) is kept for the service's life. No serialized copy is held; chunks are
// cut from the tensors themselves.
//
// Thread-compatible: the gRPC service calls it under its lock.
#ifndef TAILOR_SERVER_PUBLISHED_MODELS_H_
#define TAILOR_SERVER_PUBLISHED_MODELS_H_

#include <map>
#include <memory>
#include <string>

#include "core/serialization.h"

namespace tailor {

class PublishedModels {
 public:
  // Publishes `shared` (hashed once per object: the coordinator hands the same object to a
  // round's evaluation and the next round's training) and returns its address.
  const std::string& Publish(std::shared_ptr<const ParameterSet> shared);
  // Serves `set` for as long as this object lives (never evicted by Publish); returns its
  // serialized form (address and size).
  std::shared_ptr<const SerializedParameterSet> Pin(std::shared_ptr<const ParameterSet> set);
  // The published or pinned version at `sha`, or null.
  std::shared_ptr<const SerializedParameterSet> Find(const std::string& sha) const;
  const std::string& current() const { return current_; }

 private:
  std::map<std::string, std::shared_ptr<const SerializedParameterSet>> versions_;
  std::map<std::string, std::shared_ptr<const SerializedParameterSet>> pinned_;
  std::string current_;
  // The object current_ was computed from, held so its address cannot be reused.
  std::shared_ptr<const ParameterSet> current_set_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_PUBLISHED_MODELS_H_
