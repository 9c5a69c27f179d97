#include "client/algorithm_steps.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {

absl::Status TrainPart(LocalTrainer& trainer, const LocalData& data, TrainOptions options,
                       int epochs, TrainableFilter trainable, uint64_t seed, TrainStats* total) {
  options.epochs = epochs;
  TAILOR_ASSIGN_OR_RETURN(TrainStats part,
                          trainer.Train(*data.pool, data.train, options, trainable, seed));
  const double steps = static_cast<double>(total->steps + part.steps);
  if (steps > 0) {
    total->mean_loss = (total->mean_loss * static_cast<double>(total->steps) +
                        part.mean_loss * static_cast<double>(part.steps)) /
                       steps;
  }
  total->steps += part.steps;
  total->samples += part.samples;
  return absl::OkStatus();
}

absl::Status FineTune(LocalTrainer& trainer, const LocalData& data, TrainOptions options,
                      int epochs, uint64_t seed) {
  TrainStats ignored;
  options.dp_sgd_clip_norm = 0;
  options.proximal_mu = 0;
  options.proximal_anchor = nullptr;
  if (data.val.empty() || epochs < 1) {
    return TrainPart(trainer, data, options, epochs, nullptr, seed, &ignored);
  }
  auto val_loss = [&]() -> absl::StatusOr<double> {
    TAILOR_ASSIGN_OR_RETURN(EvalStats v, trainer.Evaluate(*data.pool, data.val));
    return v.count > 0 ? v.loss_sum / static_cast<double>(v.count) : 0.0;
  };
  TAILOR_ASSIGN_OR_RETURN(double best, val_loss());
  ParameterSet best_model = trainer.Snapshot();
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    TAILOR_RETURN_IF_ERROR(TrainPart(trainer, data, options, 1, nullptr,
                                     DeriveSeed(seed, {0x76616cULL /*"val"*/,
                                                       static_cast<uint64_t>(epoch)}),
                                     &ignored));
    TAILOR_ASSIGN_OR_RETURN(const double loss, val_loss());
    if (loss < best) {
      best = loss;
      best_model = trainer.Snapshot();
    }
  }
  return trainer.Load(best_model);
}

std::vector<std::vector<uint32_t>> EpochBatches(absl::Span<const uint32_t> indices,
                                                int batch_size, bool drop_last, Rng& rng) {
  std::vector<uint32_t> order(indices.begin(), indices.end());
  rng.Shuffle(&order);
  std::vector<std::vector<uint32_t>> batches;
  const size_t bs = static_cast<size_t>(std::max(1, batch_size));
  for (size_t begin = 0; begin < order.size(); begin += bs) {
    const size_t end = std::min(order.size(), begin + bs);
    if (end - begin < bs && drop_last) break;
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

void AddStep(double loss, int64_t batch_size, TrainStats* stats) {
  stats->mean_loss += (loss - stats->mean_loss) / static_cast<double>(stats->steps + 1);
  ++stats->steps;
  stats->samples += batch_size;
}

ParameterSet Restrict(const ParameterSet& full, const ParameterSet& like) {
  ParameterSet out;
  for (const auto& e : like.entries()) {
    if (const Tensor* t = full.Find(e.name); t != nullptr) (void)out.Add(e.name, *t);
  }
  return out;
}

absl::Status PutPrefixed(absl::string_view prefix, const ParameterSet& set, ParameterSet* state) {
  ParameterSet kept;
  for (size_t i = 0; i < state->size(); ++i) {
    NamedTensor& e = state->entry(i);
    if (!absl::StartsWith(e.name, prefix)) {
      TAILOR_RETURN_IF_ERROR(kept.Add(std::move(e.name), std::move(e.tensor)));
    }
  }
  for (const auto& e : set.entries()) {
    TAILOR_RETURN_IF_ERROR(kept.Add(absl::StrCat(prefix, e.name), e.tensor));
  }
  *state = std::move(kept);
  return absl::OkStatus();
}

ParameterSet GetPrefixed(absl::string_view prefix, const ParameterSet& state) {
  ParameterSet out;
  for (const auto& e : state.entries()) {
    if (absl::StartsWith(e.name, prefix)) {
      (void)out.Add(e.name.substr(prefix.size()), e.tensor);
    }
  }
  return out;
}

}  // namespace tailor
