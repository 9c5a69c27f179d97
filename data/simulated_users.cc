#include "data/simulated_users.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "data/user_split.h"

namespace tailor {
namespace {

double Dot(const Scores& w, const Scores& z) {
  double s = 0;
  for (int k = 0; k < kNumScorers; ++k) s += w[k] * z[k];
  return s;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Mean over `diffs` of max(p, 1 - p), p = sigmoid(beta d): the accuracy of the Bayes-optimal
// predictor (it picks the likelier side) on labels drawn with that beta.
double Ceiling(const std::vector<double>& diffs, double beta) {
  double sum = 0;
  for (double d : diffs) sum += Sigmoid(beta * std::abs(d));
  return diffs.empty() ? 1 : sum / static_cast<double>(diffs.size());
}

// The beta whose ceiling is `target` (the ceiling grows with beta from 0.5 towards the share
// of pairs with distinct utilities): bisection on log beta.
double CalibrateBeta(const std::vector<double>& diffs, double target) {
  double lo = std::log(1e-4), hi = std::log(1e4);
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (Ceiling(diffs, std::exp(mid)) < target ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

}  // namespace

absl::Status ValidateSimulatedUserOptions(const SimulatedUserOptions& o) {
  auto fail = [](const char* option, const char* rule, auto value) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": must be ", rule, ", got ", value));
  };
  if (!(o.alpha > 0)) return fail("alpha", "> 0", o.alpha);
  if (!(o.weight_noise >= 0)) return fail("weight_noise", ">= 0", o.weight_noise);
  if (ArchetypeIndex(o.axis) < 0) return fail("axis", "an archetype", o.axis);
  if (!(o.minority_fraction >= 0 && o.minority_fraction <= 0.5)) {
    return fail("minority_fraction", "in [0, 0.5]", o.minority_fraction);
  }
  if (!(o.axis_weight >= 0 && o.axis_weight <= 1)) return fail("axis_weight", "in [0, 1]", o.axis_weight);
  if (!(o.consensus_weight >= 0)) return fail("consensus_weight", ">= 0", o.consensus_weight);
  if (!(o.controversial_share > 0 && o.controversial_share <= 0.5)) {
    return fail("controversial_share", "in (0, 0.5]", o.controversial_share);
  }
  if (o.min_users_per_file < 1 || o.max_users_per_file < o.min_users_per_file) {
    return fail("users_per_file", "1 <= min <= max", o.max_users_per_file);
  }
  if (o.min_train_pairs < 1 || o.max_train_pairs < o.min_train_pairs) {
    return fail("max_train_pairs", absl::StrCat(">= ", o.min_train_pairs).c_str(), o.max_train_pairs);
  }
  if (o.test_pairs < 1) return fail("test_pairs", ">= 1", o.test_pairs);
  if (o.min_texts_per_file < 8) return fail("min_texts_per_file", ">= 8", o.min_texts_per_file);
  if (!(o.target_ceiling > 0.5 && o.target_ceiling < 1)) {
    return fail("target_ceiling", "in (0.5, 1)", o.target_ceiling);
  }
  if (!o.candidate_texts.empty() && o.candidate_texts.size() < kMinCandidateTexts) {
    return fail("candidates_path", absl::StrCat(">= ", kMinCandidateTexts, " texts").c_str(),
                absl::StrCat(o.candidate_texts.size(), " texts"));
  }
  const int archetypes = static_cast<int>(Archetypes().size());
  if (o.archetype_users && o.num_users > archetypes) {
    return fail("archetype_users",
                absl::StrCat("given at most one client per archetype (", archetypes, ")").c_str(),
                absl::StrCat(o.num_users, " clients"));
  }
  return absl::OkStatus();
}

namespace {

// Up to `count` distinct unordered pairs of `candidates`, none in `taken` (which they join),
// and none of two texts the user values equally (no preference to state).
std::vector<std::pair<uint32_t, uint32_t>> DrawPairs(const std::vector<uint32_t>& candidates,
                                                     size_t count,
                                                     const std::vector<double>& utility,
                                                     std::set<std::pair<uint32_t, uint32_t>>* taken,
                                                     Rng& rng) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  const size_t n = candidates.size();
  if (n < 2) return out;
  const size_t possible = n * (n - 1) / 2;
  for (size_t tries = 0; out.size() < count && tries < 20 * count + 100 && taken->size() < possible;
       ++tries) {
    uint32_t a = candidates[rng.UniformInt(n)], b = candidates[rng.UniformInt(n)];
    if (a == b || utility[a] == utility[b]) continue;
    if (!taken->insert({std::min(a, b), std::max(a, b)}).second) continue;
    out.push_back(rng.Uniform() < 0.5 ? std::make_pair(a, b) : std::make_pair(b, a));
  }
  return out;
}

}  // namespace

double TrueUtility(const SimulatedUser& user, const ScoreNormalizer& normalizer,
                   absl::string_view text) {
  return Dot(user.weights, normalizer.Normalize(ScoreText(text)));
}

absl::StatusOr<SimulatedPreferences> SimulatePreferences(const TextCorpus& corpus,
                                                         const SimulatedUserOptions& o) {
  TAILOR_RETURN_IF_ERROR(ValidateSimulatedUserOptions(o));
  // Distinct fortunes per file, half for a file's train and val pairs, half for its test pairs.
  TextFederationOptions split;
  split.min_texts_per_user = o.min_texts_per_file;
  split.val_fraction = 0;
  split.test_fraction = 0.5;
  split.seed = DeriveSeed(o.seed, {0x66696c6573ULL /*"files"*/});
  absl::StatusOr<TextFederation> files = FederateTexts(corpus, split);
  if (!files.ok()) return files.status();
  std::vector<std::string> texts = files->pool->texts;
  std::vector<Scores> raw(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) raw[i] = ScoreText(texts[i]);
  SimulatedPreferences out;
  // The z-scoring is the fortunes' alone, with or without candidate texts: a text's utility
  // does not depend on what else is judged.
  auto normalizer = std::make_shared<ScoreNormalizer>(raw);
  // Candidate texts instead of the files' fortunes: after them in the pool, the first half for
  // every user's train and val pairs, the second for test pairs.
  ClientSplit candidates;
  for (size_t k = 0; k < o.candidate_texts.size(); ++k) {
    std::vector<uint32_t>& half =
        k < o.candidate_texts.size() / 2 ? candidates.train : candidates.test;
    half.push_back(static_cast<uint32_t>(texts.size()));
    texts.push_back(o.candidate_texts[k]);
  }
  std::vector<Scores> z(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    z[i] = normalizer->Normalize(i < raw.size() ? raw[i] : ScoreText(texts[i]));
  }
  out.normalizer = normalizer;
  out.notes = files->dropped;

  // The users: each file's, in file order.
  const std::vector<Archetype>& archetypes = Archetypes();
  const int axis = ArchetypeIndex(o.axis);
  const int opposite = axis ^ 1;  // archetypes come in (name, opposite) pairs
  Rng rng(DeriveSeed(o.seed, {0x7573657273ULL /*"users"*/}));
  std::vector<SimulatedUser> users;
  // Each user's file, or kAllFiles for an archetype user (it judges pairs from every file).
  constexpr size_t kAllFiles = static_cast<size_t>(-1);
  std::vector<size_t> user_file;
  auto add_consensus = [&](SimulatedUser& u) {
    for (const char* shared : {"cheerful", "quoter", "calm"}) {
      const Archetype& a = archetypes[ArchetypeIndex(shared)];
      for (int s = 0; s < kNumScorers; ++s) u.weights[s] += o.consensus_weight / 3 * a.weights[s];
    }
  };
  if (o.archetype_users) {
    // One user per archetype, all of its weight on it (plus the taste everyone shares, so that
    // a mixture of these users by a real user's archetype weights is that user's taste, less
    // its noise): the preference dimensions of Personalized Soups, each labelled on its own.
    for (size_t a = 0; a < archetypes.size(); ++a) {
      SimulatedUser u;
      u.name = absl::StrCat("archetype:", archetypes[a].name);
      u.archetype = static_cast<int>(a);
      u.archetype_weights.assign(archetypes.size(), 0.0);
      u.archetype_weights[a] = 1;
      u.weights = archetypes[a].weights;
      add_consensus(u);
      users.push_back(std::move(u));
      user_file.push_back(kAllFiles);
    }
  } else {
    for (size_t f = 0; f < files->names.size(); ++f) {
      const int spread = o.max_users_per_file - o.min_users_per_file + 1;
      const int n = o.min_users_per_file + static_cast<int>(rng.UniformInt(spread));
      for (int k = 0; k < n; ++k) {
        SimulatedUser u;
        u.name = absl::StrCat(files->names[f], "#", k);
        u.archetype_weights =
            rng.SymmetricDirichlet(o.alpha, static_cast<int>(archetypes.size()));
        u.minority = rng.Uniform() < o.minority_fraction;
        for (double& w : u.archetype_weights) w *= 1 - o.axis_weight;
        u.archetype_weights[u.minority ? opposite : axis] += o.axis_weight;
        for (size_t a = 0; a < archetypes.size(); ++a) {
          for (int s = 0; s < kNumScorers; ++s) {
            u.weights[s] += u.archetype_weights[a] * archetypes[a].weights[s];
          }
        }
        add_consensus(u);
        for (double& w : u.weights) w += o.weight_noise * rng.Normal();
        users.push_back(std::move(u));
        user_file.push_back(f);
      }
    }
  }

  // Client order: a draw of num_users, the held-out ones last.
  TAILOR_ASSIGN_OR_RETURN(std::vector<size_t> chosen,
                          ChooseClientUsers(users.size(), o.num_users, o.held_out, o.seed,
                                            "were simulated (fewer fortune files qualify)"));
  std::vector<bool> held_out(users.size(), false);
  for (size_t i = chosen.size() - static_cast<size_t>(o.held_out); i < chosen.size(); ++i) {
    held_out[chosen[i]] = true;
  }

  // Each user's pairs, oriented at random, then labelled.
  auto pool = std::make_shared<PreferenceDataset>();
  pool->texts = texts;
  const uint32_t prompt = static_cast<uint32_t>(pool->texts.size());
  pool->texts.push_back("");  // fortunes answer no prompt: the model scores them from BOS
  struct Drawn {
    std::vector<std::pair<uint32_t, uint32_t>> train, val, test;
  };
  std::vector<Drawn> drawn(users.size());
  std::vector<double> test_diffs;
  std::vector<double> utility(texts.size());
  ClientSplit every_file;  // the candidates of an archetype user
  if (o.archetype_users) {
    for (const ClientSplit& file : files->clients) {
      every_file.train.insert(every_file.train.end(), file.train.begin(), file.train.end());
      every_file.test.insert(every_file.test.end(), file.test.begin(), file.test.end());
    }
  }
  for (size_t u = 0; u < users.size(); ++u) {
    const ClientSplit& file = !o.candidate_texts.empty() ? candidates
                              : user_file[u] == kAllFiles ? every_file
                                                          : files->clients[user_file[u]];
    for (size_t t = 0; t < texts.size(); ++t) utility[t] = Dot(users[u].weights, z[t]);
    Rng pairs_rng(DeriveSeed(o.seed, {0x7061697273ULL /*"pairs"*/, u}));
    size_t train = o.min_train_pairs +
                   pairs_rng.UniformInt(o.max_train_pairs - o.min_train_pairs + 1);
    // A held-out user has the most, so that its few-shot curve (eval.new_client_shots) reaches
    // max_train_pairs; the draw above is made anyway, keeping everyone else's pairs the same.
    if (held_out[u] || o.archetype_users) train = static_cast<size_t>(o.max_train_pairs);
    std::set<std::pair<uint32_t, uint32_t>> taken, taken_test;
    drawn[u].train = DrawPairs(file.train, train, utility, &taken, pairs_rng);
    drawn[u].val = DrawPairs(file.train, std::max<size_t>(2, train / 5), utility, &taken, pairs_rng);
    drawn[u].test = DrawPairs(file.test, static_cast<size_t>(o.test_pairs), utility, &taken_test,
                              pairs_rng);
    for (const auto& [a, b] : drawn[u].test) test_diffs.push_back(utility[a] - utility[b]);
  }
  out.beta = o.deterministic_labels ? 0 : CalibrateBeta(test_diffs, o.target_ceiling);
  out.ceiling = o.deterministic_labels ? 1 : Ceiling(test_diffs, out.beta);

  // Labels, and whether the population is split on each pair.
  std::vector<ClientSplit> splits(users.size());
  for (size_t u = 0; u < users.size(); ++u) {
    Rng label_rng(DeriveSeed(o.seed, {0x6c6162656cULL /*"label"*/, u}));
    auto add = [&](const std::vector<std::pair<uint32_t, uint32_t>>& list,
                   std::vector<uint32_t>* into) {
      for (const auto& [a, b] : list) {
        const double d = Dot(users[u].weights, z[a]) - Dot(users[u].weights, z[b]);
        const bool a_wins = o.deterministic_labels ? d > 0
                                                   : label_rng.Uniform() < Sigmoid(out.beta * d);
        into->push_back(static_cast<uint32_t>(pool->pairs.size()));
        pool->pairs.push_back({prompt, a_wins ? a : b, a_wins ? b : a});
        Scores delta{};
        for (int s = 0; s < kNumScorers; ++s) delta[s] = z[a][s] - z[b][s];
        size_t prefer_a = 0;
        for (const SimulatedUser& other : users) prefer_a += Dot(other.weights, delta) > 0;
        const double share = static_cast<double>(prefer_a) / static_cast<double>(users.size());
        out.controversial.push_back(std::min(share, 1 - share) >= o.controversial_share);
      }
    };
    add(drawn[u].train, &splits[u].train);
    add(drawn[u].val, &splits[u].val);
    add(drawn[u].test, &splits[u].test);
    std::vector<uint32_t>& controversial = splits[u].test_views["controversial"];
    for (uint32_t p : splits[u].test) {
      if (out.controversial[p]) controversial.push_back(p);
    }
  }

  for (size_t i : chosen) {
    out.users.push_back(users[i]);
    out.clients.push_back(std::move(splits[i]));
  }
  out.pool = std::move(pool);
  return out;
}

}  // namespace tailor
