#include "tools/reward_picker.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/client_runtime.h"
#include "core/config_loader.h"
#include "core/status_macros.h"
#include "sim/aligned_selection.h"
#include "tools/selection_report.h"

ABSL_FLAG(std::string, pick_with, "",
          "generate: with --all_users on tuned models or mixed experts, a reward run of the same "
          "users whose models pick the best of each --pick_from samples: each user's own reward "
          "model for the user's texts, the global one for the global rule's (best-of-m on top "
          "of a tuned generator; a way to spend equal compute).");
ABSL_FLAG(int, pick_from, 1, "generate: samples per text picked with --pick_with.");

namespace tailor {

absl::Status CheckSameUsers(const config::ExperimentConfig& other,
                            const config::ExperimentConfig& users, const std::string& flag,
                            const std::string& path, const std::string& users_flag) {
  if (other.seed() != users.seed() || other.eval().new_clients() != users.eval().new_clients() ||
      other.data().SerializeAsString() != users.data().SerializeAsString()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, " simulates other users than ", users_flag, " (its seed, data options "
        "or eval.new_clients differ): the picks would be judged by different tastes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalTrainer>> LoadGlobalReward(const Experiment& e,
                                                               const ParameterSet& final_shared) {
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> trainer, LocalTrainer::Create(e.spec));
  TAILOR_RETURN_IF_ERROR(trainer->Load(*e.initial_model));
  TAILOR_RETURN_IF_ERROR(trainer->Load(final_shared));
  return trainer;
}

absl::StatusOr<std::unique_ptr<RewardPicker>> RewardPicker::Load(
    const std::string& path, const config::ExperimentConfig& users, const std::string& flag,
    const std::string& users_flag, Env* env) {
  std::unique_ptr<RewardPicker> p(new RewardPicker());
  TAILOR_ASSIGN_OR_RETURN(p->run_, LoadExperimentConfig(path, env, {}));
  TAILOR_RETURN_IF_ERROR(CheckSameUsers(p->run_, users, flag, path, users_flag));
  TAILOR_ASSIGN_OR_RETURN(Experiment e, BuildExperiment(p->run_, env, /*load_data=*/true));
  if (e.spec.task != TaskKind::kPairwisePreference) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "'s model ", e.spec.architecture, " is not a reward model"));
  }
  p->experiment_ = std::make_unique<Experiment>(std::move(e));
  TAILOR_ASSIGN_OR_RETURN(p->store_, PersonalStoreOf(p->run_, *p->experiment_->algorithm, env));
  TAILOR_ASSIGN_OR_RETURN(p->final_shared_, ReadFinalShared(p->run_, env));
  TAILOR_ASSIGN_OR_RETURN(p->global_, LoadGlobalReward(*p->experiment_, p->final_shared_));
  TAILOR_ASSIGN_OR_RETURN(p->personal_, LoadGlobalReward(*p->experiment_, p->final_shared_));
  return p;
}

absl::StatusOr<std::vector<std::string>> RewardPicker::Pick(LocalTrainer& model,
                                                            const std::string& prompt,
                                                            const std::vector<std::string>& texts,
                                                            int n) {
  if (n < 1 || texts.size() % static_cast<size_t>(n) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("picking the best of each ", n, " of ", texts.size(), " texts"));
  }
  TAILOR_ASSIGN_OR_RETURN(std::vector<double> scores, model.Reward(prompt, texts));
  std::vector<std::string> picks;
  for (size_t i : PickBest(scores, n)) picks.push_back(texts[i]);
  return picks;
}

absl::StatusOr<std::vector<std::string>> RewardPicker::PickGlobal(
    const std::string& prompt, const std::vector<std::string>& texts, int n) {
  return Pick(*global_, prompt, texts, n);
}

absl::StatusOr<std::vector<std::string>> RewardPicker::PickForClient(
    int64_t client, const std::string& prompt, const std::vector<std::string>& texts, int n) {
  ClientRuntime runtime(ClientContextFor(*experiment_, client, store_.get()));
  TAILOR_RETURN_IF_ERROR(Annotate(runtime.LoadPersonalizedModel(final_shared_, TrainOptionsFrom(run_),
                                                                run_.seed(), *personal_),
                                  absl::StrCat("client ", client)));
  return Pick(*personal_, prompt, texts, n);
}

absl::StatusOr<PickedTexts> PickOrKeep(RewardPicker* picker, int64_t client,
                                       const std::string& prompt,
                                       const std::vector<std::string>& samples, int m,
                                       int models_per_byte) {
  if (m < 1 || samples.size() % static_cast<size_t>(m) != 0 || (picker == nullptr && m != 1)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot pick one text of each ", m, " of ",
                                                   samples.size(), " samples"));
  }
  PickedTexts out;
  int64_t positions = 0;
  for (const std::string& t : samples) {
    positions += models_per_byte * SamplingPositions(prompt, t);
    if (picker != nullptr) positions += ScoringPositions(prompt, t);
  }
  if (picker == nullptr) {
    out.texts = samples;
  } else if (client < 0) {
    TAILOR_ASSIGN_OR_RETURN(out.texts, picker->PickGlobal(prompt, samples, m));
  } else {
    TAILOR_ASSIGN_OR_RETURN(out.texts, picker->PickForClient(client, prompt, samples, m));
  }
  out.positions_per_text =
      out.texts.empty() ? 0 : static_cast<double>(positions) / static_cast<double>(out.texts.size());
  return out;
}

absl::StatusOr<std::unique_ptr<RewardPicker>> PickerFromFlags(const config::ExperimentConfig& users,
                                                              const std::string& users_flag,
                                                              Env* env) {
  const std::string path = absl::GetFlag(FLAGS_pick_with);
  const int m = SamplesPerPick();
  if (m < 1 || (m > 1 && path.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pick_from ", m, ": give a count >= 1, and --pick_with to pick with"));
  }
  if (path.empty()) return std::unique_ptr<RewardPicker>();
  return RewardPicker::Load(path, users, "--pick_with", users_flag, env);
}

int SamplesPerPick() { return absl::GetFlag(FLAGS_pick_from); }

}  // namespace tailor
