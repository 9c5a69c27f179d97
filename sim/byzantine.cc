#include "sim/byzantine.h"

#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/personalization_policy.h"
#include "core/random.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "core/wire_update.h"

namespace tailor {

absl::StatusOr<ByzantineClients> ByzantineClients::Create(int64_t num_clients,
                                                          const AttackOptions& options) {
  if (!(options.byzantine_fraction >= 0 && options.byzantine_fraction < 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("byzantine_fraction must be in [0, 0.5), got ", options.byzantine_fraction));
  }
  if (options.kind != "sign_flip" && options.kind != "gaussian") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown attack '", options.kind, "' (known: sign_flip, gaussian)"));
  }
  if (!(options.scale > 0) || !std::isfinite(options.scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attack scale must be finite and > 0, got ", options.scale));
  }
  const int64_t count = static_cast<int64_t>(
      std::floor(options.byzantine_fraction * static_cast<double>(num_clients)));
  std::vector<int64_t> ids(static_cast<size_t>(num_clients));
  std::iota(ids.begin(), ids.end(), int64_t{0});
  Rng rng(DeriveSeed(options.seed, {0x62797a616e74ULL /*"byzant"*/}));
  rng.Shuffle(&ids);
  std::vector<bool> byzantine(static_cast<size_t>(num_clients), false);
  for (int64_t i = 0; i < count; ++i) byzantine[static_cast<size_t>(ids[i])] = true;
  return ByzantineClients(options, std::move(byzantine), count);
}

bool ByzantineClients::IsByzantine(int64_t client_id) const {
  return client_id >= 0 && client_id < static_cast<int64_t>(byzantine_.size()) &&
         byzantine_[static_cast<size_t>(client_id)];
}

absl::Status ByzantineClients::Corrupt(UpdateUpload* upload) const {
  TAILOR_ASSIGN_OR_RETURN(ParameterSet update, DeserializeParameterSet(upload->payload));
  Rng rng(DeriveSeed(options_.seed,
                     {0x6e6f697365ULL /*"noise"*/, static_cast<uint64_t>(upload->client_id),
                      static_cast<uint64_t>(upload->round)}));
  for (size_t t = 0; t < update.size(); ++t) {
    Tensor& x = update.entry(t).tensor;
    if (x.dtype() != DType::kFloat32) continue;
    for (float& v : x.f32()) {
      v = options_.kind == "sign_flip" ? static_cast<float>(-options_.scale * v)
                                       : static_cast<float>(options_.scale * rng.Normal());
    }
  }
  // The update holds only shared tensors already, so the empty policy is the right one.
  TAILOR_ASSIGN_OR_RETURN(upload->payload, EncodeSharedUpdate(update, PersonalizationPolicy()));
  return absl::OkStatus();
}

}  // namespace tailor
