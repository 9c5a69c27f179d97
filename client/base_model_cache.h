// BaseModelCache: the base model a daemon was sent (JoinResponse.base_model_sha256: the
// pretrained model every client starts from, frozen LoRA base included), kept in the daemon's
// state directory under its content address, so a restarted daemon never fetches it again.
//
// A file is trusted only if it decodes (the format's own digest) to the address it is named by:
// a torn or damaged copy is deleted and reported absent, and the daemon fetches the model again.
#ifndef TAILOR_CLIENT_BASE_MODEL_CACHE_H_
#define TAILOR_CLIENT_BASE_MODEL_CACHE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "core/parameter_set.h"

namespace tailor {

// FAILED_PRECONDITION (permanent: the configs differ in a way the fingerprint cannot see) when
// the coordinator's `base` lacks a parameter of this client's model `own`, has it in another
// dtype or shape, or has parameters `own` does not.
absl::Status CheckBaseModelMatches(const ParameterSet& own, const ParameterSet& base);

class BaseModelCache {
 public:
  // `dir` is created on the first Store.
  BaseModelCache(std::string dir, Env* env) : dir_(std::move(dir)), env_(env) {}

  // The cached set at `sha`; nullopt when there is none or the copy is damaged (then deleted).
  // Errors: only reading a file that exists failing (the disk, permissions).
  absl::StatusOr<std::optional<ParameterSet>> Find(const std::string& sha);
  // Writes `set` atomically as DIR/<its address>.tlps, and returns the address.
  absl::StatusOr<std::string> Store(const ParameterSet& set);

  std::string PathOf(const std::string& sha) const;

 private:
  std::string dir_;
  Env* env_;
};

}  // namespace tailor

#endif  // TAILOR_CLIENT_BASE_MODEL_CACHE_H_
