// `tailor pretrain --config FILE [--set ...]`: trains the config's base language model on its
// training clients' train splits (sim/pretrain.h) and writes the model experiments start from.
#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "sim/pretrain.h"
#include "tools/commands.h"

ABSL_DECLARE_FLAG(bool, quiet);

int tailor::PretrainCommand() {
  auto loaded = LoadConfigsFromFlags("pretrain");
  if (!loaded.ok()) return 2;
  for (const config::ExperimentConfig& c : *loaded) {
    std::fprintf(stderr, "[%s] pretrain: %s, %d steps of %d texts on %d training clients' text\n",
                 c.name().c_str(), c.model().architecture().c_str(), c.pretrain().steps(),
                 c.train().batch_size(), c.data().num_clients() - c.eval().new_clients());
    absl::StatusOr<PretrainResult> r =
        RunPretraining(c, Env::Default(), absl::GetFlag(FLAGS_quiet) ? nullptr : stderr);
    if (!r.ok()) {
      std::fprintf(stderr, "tailor pretrain: '%s' failed: %s\n", c.name().c_str(),
                   r.status().ToString().c_str());
      return absl::IsInvalidArgument(r.status()) ? 2 : 1;
    }
    std::printf("pretrained %s: %lld steps, val bpb %.3f, %.0f tokens/s\n"
                "start experiments from it: --set model.initial_model=%s\n",
                r->output.c_str(), static_cast<long long>(r->steps), r->val_bpb,
                r->tokens_per_second, r->output.c_str());
  }
  return 0;
}
