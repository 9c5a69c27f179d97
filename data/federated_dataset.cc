#include "data/federated_dataset.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/random.h"
#include "data/dataset_registry.h"
#include "data/preference_dataset.h"
#include "data/text_dataset.h"
#include "data/user_jsonl.h"
#include "data/pfllib_partition.h"
#include "core/status_macros.h"

namespace tailor {
namespace {
// Stream tags keep the partition and the split independent of every other use of the seed.
constexpr uint64_t kPartitionStream = 0x7061727469ULL;  // "parti"
constexpr uint64_t kSplitStream = 0x73706c6974ULL;      // "split"
}  // namespace

absl::StatusOr<FederatedDataset> PartitionPool(std::shared_ptr<const ImageDataset> pool,
                                               const config::DataConfig& config,
                                               uint64_t experiment_seed) {
  const uint64_t seed = config.seed() != 0 ? config.seed() : experiment_seed;
  const uint64_t part_seed = DeriveSeed(seed, {kPartitionStream});
  if (config.has_dirichlet() && config.dirichlet().has_pfllib_numpy_seed()) {
    PfllibDirichletOptions opts;
    opts.alpha = config.dirichlet().alpha();
    opts.least_samples = config.dirichlet().min_samples_per_client();
    opts.train_fraction = config.train_fraction();
    opts.numpy_seed = config.dirichlet().pfllib_numpy_seed();
    opts.max_attempts = config.dirichlet().max_attempts();
    FederatedDataset out;
    TAILOR_ASSIGN_OR_RETURN(out.clients, PfllibDirichletSplit(pool->labels, pool->num_classes,
                                                              config.num_clients(), opts));
    out.pool = std::move(pool);
    return out;
  }
  Partition part;
  if (config.has_dirichlet() && config.dirichlet().per_client()) {
    TAILOR_ASSIGN_OR_RETURN(
        part, PartitionDirichletPerClient(pool->labels, pool->num_classes, config.num_clients(),
                                          config.dirichlet().alpha(), part_seed));
  } else if (config.has_dirichlet()) {
    DirichletOptions opts;
    opts.alpha = config.dirichlet().alpha();
    opts.min_samples_per_client = config.dirichlet().min_samples_per_client();
    opts.balance_cap = !config.dirichlet().no_balance_cap();
    opts.max_attempts = config.dirichlet().max_attempts();
    TAILOR_ASSIGN_OR_RETURN(part, PartitionDirichlet(pool->labels, pool->num_classes,
                                                     config.num_clients(), opts, part_seed));
  } else if (config.has_shards()) {
    TAILOR_ASSIGN_OR_RETURN(
        part, PartitionShards(pool->labels, pool->num_classes, config.num_clients(),
                              config.shards().classes_per_client(), part_seed));
  } else {
    TAILOR_ASSIGN_OR_RETURN(part, PartitionIid(pool->size(), config.num_clients(), part_seed));
  }
  FederatedDataset out;
  out.pool = std::move(pool);
  out.clients = SplitTrainTest(part, config.train_fraction(), DeriveSeed(seed, {kSplitStream}));
  return out;
}

namespace {

absl::StatusOr<FederatedDataset> BuildTextDataset(const config::DataConfig& config,
                                                  int held_out, uint64_t experiment_seed,
                                                  Env* env) {
  absl::StatusOr<TextCorpus> corpus;
  if (config.dataset() == "fortunes") {
    corpus = LoadFortunes(config.path(), env);
  } else if (config.dataset() == "text_dir") {
    corpus = LoadTextDirectory(config.path(), env);
  } else {
    corpus = LoadTextJsonl(config.path(), env);
  }
  if (!corpus.ok()) return corpus.status();
  TextFederationOptions o;
  o.min_texts_per_user = config.text().min_texts_per_client();
  o.max_texts_per_user = config.text().max_texts_per_client();
  o.val_fraction = config.text().val_fraction();
  o.test_fraction = config.text().test_fraction();
  o.num_clients = config.num_clients();
  o.held_out = held_out;
  o.seed = DeriveSeed(config.seed() != 0 ? config.seed() : experiment_seed, {kSplitStream});
  TAILOR_ASSIGN_OR_RETURN(TextFederation f, FederateTexts(*corpus, o));
  FederatedDataset out;
  out.pool = f.pool;
  out.clients = std::move(f.clients);
  out.client_names = std::move(f.names);
  out.notes = std::move(corpus->skipped);
  if (f.duplicates_removed > 0) {
    out.notes.push_back(absl::StrCat(f.duplicates_removed,
                                     " texts removed as exact duplicates of earlier users' texts"));
  }
  for (std::string& d : f.dropped) out.notes.push_back(std::move(d));
  return out;
}

// data.preference.candidates_path's texts, in file order, without duplicates or empty ones.
absl::StatusOr<std::vector<std::string>> LoadCandidateTexts(const std::string& path, Env* env) {
  absl::StatusOr<std::vector<UserJsonlRecord>> records = ReadUserJsonl(path, env, {"text"});
  if (!records.ok()) {
    return Annotate(records.status(), "data.preference.candidates_path");
  }
  std::vector<std::string> texts;
  absl::flat_hash_set<std::string> seen;
  for (UserJsonlRecord& r : *records) {
    if (!r.values[0].empty() && seen.insert(r.values[0]).second) {
      texts.push_back(std::move(r.values[0]));
    }
  }
  return texts;
}

// Pairwise preferences: simulated users on the fortunes, or users' own pairs from JSONL.
absl::StatusOr<FederatedDataset> BuildPreferenceDataset(const config::DataConfig& config,
                                                        int held_out, uint64_t experiment_seed,
                                                        Env* env) {
  const config::PreferenceDataConfig& p = config.preference();
  const uint64_t seed =
      DeriveSeed(config.seed() != 0 ? config.seed() : experiment_seed, {kSplitStream});
  FederatedDataset out;
  if (config.dataset() == "preference_jsonl") {
    TAILOR_ASSIGN_OR_RETURN(std::vector<PreferenceUser> users,
                            LoadPreferenceJsonl(config.path(), env));
    PreferenceFederationOptions o;
    o.min_pairs_per_user = p.min_pairs_per_client();
    o.val_fraction = p.val_fraction();
    o.test_fraction = p.test_fraction();
    o.num_clients = config.num_clients();
    o.held_out = held_out;
    o.seed = seed;
    TAILOR_ASSIGN_OR_RETURN(PreferenceFederation f, FederatePreferences(users, o));
    out.pool = f.pool;
    out.clients = std::move(f.clients);
    out.client_names = std::move(f.names);
    out.notes = std::move(f.dropped);
    return out;
  }
  TAILOR_ASSIGN_OR_RETURN(TextCorpus corpus, LoadFortunes(config.path(), env));
  SimulatedUserOptions options = SimulatedUserOptionsOf(p, config, held_out, seed);
  if (!p.candidates_path().empty()) {
    TAILOR_ASSIGN_OR_RETURN(options.candidate_texts, LoadCandidateTexts(p.candidates_path(), env));
  }
  TAILOR_ASSIGN_OR_RETURN(SimulatedPreferences sim, SimulatePreferences(corpus, options));
  out.pool = sim.pool;
  out.clients = std::move(sim.clients);
  for (const SimulatedUser& u : sim.users) {
    out.client_names.push_back(absl::StrCat(u.name, u.minority ? " (minority)" : ""));
  }
  out.notes = std::move(sim.notes);
  out.simulated_users = std::move(sim.users);
  out.score_normalizer = sim.normalizer;
  out.notes.push_back(absl::StrFormat(
      "simulated users: beta %.3f, best possible test accuracy %.3f", sim.beta, sim.ceiling));
  return out;
}

}  // namespace

SimulatedUserOptions SimulatedUserOptionsOf(const config::PreferenceDataConfig& p,
                                            const config::DataConfig& data, int held_out,
                                            uint64_t seed) {
  SimulatedUserOptions o;
  if (p.has_alpha()) o.alpha = p.alpha();
  if (!p.axis().empty()) o.axis = p.axis();
  if (p.has_minority_fraction()) o.minority_fraction = p.minority_fraction();
  if (p.has_target_ceiling()) o.target_ceiling = p.target_ceiling();
  if (p.has_consensus_weight()) o.consensus_weight = p.consensus_weight();
  o.deterministic_labels = p.deterministic_labels();
  o.archetype_users = p.archetype_users();
  if (p.has_max_train_pairs()) o.max_train_pairs = p.max_train_pairs();
  if (p.has_test_pairs()) o.test_pairs = p.test_pairs();
  o.num_users = data.num_clients();
  o.held_out = held_out;
  o.seed = seed;
  return o;
}

absl::StatusOr<FederatedDataset> BuildFederatedDataset(const config::DataConfig& config,
                                                       uint64_t experiment_seed, Env* env,
                                                       int held_out_clients) {
  const DatasetInfo* dataset = FindDataset(config.dataset());
  if (dataset == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown dataset '", config.dataset(),
                                                   "' (known: ", DatasetNames(), ")"));
  }
  if (dataset->text) return BuildTextDataset(config, held_out_clients, experiment_seed, env);
  if (dataset->preference) {
    return BuildPreferenceDataset(config, held_out_clients, experiment_seed, env);
  }
  TAILOR_ASSIGN_OR_RETURN(ImageDataset ds, LoadFashionMnist(config.path(), env));
  if (config.max_samples() > 0) ds.Truncate(static_cast<size_t>(config.max_samples()));
  return PartitionPool(std::make_shared<const ImageDataset>(std::move(ds)), config,
                       experiment_seed);
}

}  // namespace tailor
