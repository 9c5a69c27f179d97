#include "core/config_fingerprint.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace tailor {
namespace {

// Deterministic within one build of the schema (map order, field order), which is what both
// ends of one experiment run.
std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

ConfigFingerprint FingerprintOf(const config::ExperimentConfig& c) {
  ConfigFingerprint f;
  f.parts["seed"] = ToHex(Sha256(absl::StrCat(c.seed())));
  f.parts["data"] = ToHex(Sha256(DeterministicBytes(c.data())));
  // Not the initial model's path: it is a local path, and its contents are checked by address
  // at Join instead (JoinResponse.base_model_sha256: a client with another copy fetches it).
  config::ModelConfig model = c.model();
  model.clear_initial_model();
  f.parts["model"] = ToHex(Sha256(DeterministicBytes(model)));
  f.parts["algorithm"] = ToHex(Sha256(DeterministicBytes(c.algorithm())));
  f.parts["train"] = ToHex(Sha256(DeterministicBytes(c.train())));
  f.parts["upload"] = ToHex(Sha256(DeterministicBytes(c.upload())));
  f.parts["privacy"] = ToHex(Sha256(DeterministicBytes(c.privacy())));
  std::string all;
  for (const auto& [part, digest] : f.parts) absl::StrAppend(&all, part, "=", digest, "\n");
  f.digest = ToHex(Sha256(all));
  return f;
}

}  // namespace tailor
