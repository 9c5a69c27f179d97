// The parts of an experiment config that the coordinator and every client must agree on, as
// digests: a client whose data config differs trains on another shard, one whose model differs
// fails only on the device. Compared at Join, naming the parts that differ.
#ifndef TAILOR_CORE_CONFIG_FINGERPRINT_H_
#define TAILOR_CORE_CONFIG_FINGERPRINT_H_

#include <map>
#include <string>

#include "tailor/config.pb.h"

namespace tailor {

struct ConfigFingerprint {
  // SHA-256 (hex) over every part below.
  std::string digest;
  // Part name ("seed", "data", "model", "algorithm", "train", "upload", "privacy") -> SHA-256
  // (hex) of its deterministic serialization. Left out: where outputs go (name, output_dir), how
  // a process runs (simulation), and what only the coordinator decides and sends in each task
  // (rounds, server, eval), so an operator may change those on the coordinator alone.
  std::map<std::string, std::string> parts;
};

ConfigFingerprint FingerprintOf(const config::ExperimentConfig& config);

}  // namespace tailor

#endif  // TAILOR_CORE_CONFIG_FINGERPRINT_H_
