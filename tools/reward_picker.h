// A reward run's models picking among a generator's samples, for `tailor generate --pick_with`:
// each user's own reward model (its personal part, adapted as its algorithm does before an
// evaluation) picks the user's texts, the run's global reward model the global rule's. It turns
// any tuned or mixed generator into best-of-m, so rows of a table can be run at equal compute.
#ifndef TAILOR_TOOLS_REWARD_PICKER_H_
#define TAILOR_TOOLS_REWARD_PICKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "client/personal_store.h"
#include "core/env.h"
#include "core/parameter_set.h"
#include "sim/experiment.h"
#include "tailor/config.pb.h"

namespace tailor {

// OK when `other` simulates the users of `users` (the same seed, data options and held-out
// users, hence the same users in the same client order); otherwise INVALID_ARGUMENT naming
// `flag`, `path` and `users_flag` (where `users` came from).
absl::Status CheckSameUsers(const config::ExperimentConfig& other,
                            const config::ExperimentConfig& users, const std::string& flag,
                            const std::string& path, const std::string& users_flag);

// A run's global reward model: its final shared parameters over its initial model.
absl::StatusOr<std::unique_ptr<LocalTrainer>> LoadGlobalReward(const Experiment& e,
                                                               const ParameterSet& final_shared);

class RewardPicker {
 public:
  // The finished reward run at `path`; it must simulate `users`' users (CheckSameUsers, with
  // `flag` and `users_flag` naming the options in errors).
  static absl::StatusOr<std::unique_ptr<RewardPicker>> Load(const std::string& path,
                                                            const config::ExperimentConfig& users,
                                                            const std::string& flag,
                                                            const std::string& users_flag, Env* env);

  // The best text of each consecutive `n` of `texts` (texts.size() a multiple of n) by the
  // global reward model, or by `client`'s own.
  absl::StatusOr<std::vector<std::string>> PickGlobal(const std::string& prompt,
                                                      const std::vector<std::string>& texts, int n);
  absl::StatusOr<std::vector<std::string>> PickForClient(int64_t client, const std::string& prompt,
                                                         const std::vector<std::string>& texts,
                                                         int n);

 private:
  RewardPicker() = default;
  absl::StatusOr<std::vector<std::string>> Pick(LocalTrainer& model, const std::string& prompt,
                                                const std::vector<std::string>& texts, int n);

  config::ExperimentConfig run_;
  std::unique_ptr<Experiment> experiment_;
  std::unique_ptr<PersonalStore> store_;
  ParameterSet final_shared_;
  std::unique_ptr<LocalTrainer> global_, personal_;
};

// What a generator's `samples` (groups · m of them) give one rule, and their compute: with a
// picker, the best of each m by `client`'s own reward model (the global one for client -1);
// without, the samples themselves (m must be 1). `models_per_byte` is how many language models
// each sampled byte ran (MOD: the experts mixed).
struct PickedTexts {
  std::vector<std::string> texts;
  double positions_per_text = 0;  // sampling (and scoring) positions per text the rule gives
};
absl::StatusOr<PickedTexts> PickOrKeep(RewardPicker* picker, int64_t client,
                                       const std::string& prompt,
                                       const std::vector<std::string>& samples, int m,
                                       int models_per_byte);

// --pick_with and --pick_from as a command gives them: the picker (null without --pick_with)
// for the users of `users` (named `users_flag` in errors); INVALID_ARGUMENT for --pick_from < 1,
// or > 1 without --pick_with.
absl::StatusOr<std::unique_ptr<RewardPicker>> PickerFromFlags(const config::ExperimentConfig& users,
                                                              const std::string& users_flag,
                                                              Env* env);
// --pick_from.
int SamplesPerPick();

}  // namespace tailor

#endif  // TAILOR_TOOLS_REWARD_PICKER_H_
