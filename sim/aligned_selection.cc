#include "sim/aligned_selection.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "data/text_dataset.h"

namespace tailor {

absl::StatusOr<std::vector<std::string>> SampleCandidates(LocalTrainer& language_model,
                                                          const SelectionOptions& options) {
  if (options.n < 1 || options.groups < 1) {
    return absl::InvalidArgumentError(absl::StrCat("best-of-n needs n >= 1 and groups >= 1, got ",
                                                   options.n, " and ", options.groups));
  }
  std::vector<std::string> texts;
  const int total = options.n * options.groups;
  texts.reserve(static_cast<size_t>(total));
  GenerationOptions g = options.generation;
  for (int k = 0; k < total; ++k) {
    g.seed = options.generation.seed + static_cast<uint64_t>(k);
    TAILOR_ASSIGN_OR_RETURN(std::string text, language_model.Generate(options.prompt, g));
    texts.push_back(std::move(text));
  }
  return texts;
}

std::vector<size_t> PickBest(const std::vector<double>& scores, int n) {
  std::vector<size_t> picks;
  const size_t group = static_cast<size_t>(std::max(1, n));
  for (size_t begin = 0; begin + group <= scores.size(); begin += group) {
    size_t best = begin;
    for (size_t i = begin + 1; i < begin + group; ++i) {
      if (scores[i] > scores[best]) best = i;
    }
    picks.push_back(best);
  }
  return picks;
}

namespace {

double Gain(double picked, double random, double best) {
  return best > random ? (picked - random) / (best - random) : 0;
}

}  // namespace

double UserSelection::normalized_gain() const { return Gain(personal, random, best); }
double UserSelection::global_normalized_gain() const { return Gain(global, random, best); }

UserSelection JudgeSelection(const std::vector<double>& utility,
                             const std::vector<double>& personal_scores,
                             const std::vector<double>& global_scores, int n) {
  UserSelection out;
  const std::vector<size_t> personal = PickBest(personal_scores, n);
  const std::vector<size_t> global = PickBest(global_scores, n);
  const std::vector<size_t> oracle = PickBest(utility, n);
  const size_t groups = oracle.size();
  if (groups == 0) return out;
  for (size_t g = 0; g < groups; ++g) {
    out.personal += utility[personal[g]];
    out.global += utility[global[g]];
    out.best += utility[oracle[g]];
    double sum = 0;
    for (size_t i = g * static_cast<size_t>(n); i < (g + 1) * static_cast<size_t>(n); ++i) {
      sum += utility[i];
    }
    out.random += sum / n;
  }
  for (double* mean : {&out.personal, &out.global, &out.best, &out.random}) *mean /= groups;
  return out;
}

SelectionSummary SummarizeSelections(const std::vector<UserSelection>& users) {
  SelectionSummary s;
  s.users = users.size();
  if (users.empty()) return s;
  for (const UserSelection& u : users) {
    s.personal += u.personal;
    s.global += u.global;
    s.random += u.random;
    s.best += u.best;
    s.normalized_gain += u.normalized_gain();
    s.global_normalized_gain += u.global_normalized_gain();
    s.personal_beats_global += u.personal > u.global ? 1 : 0;
  }
  const double n = static_cast<double>(users.size());
  for (double* mean : {&s.personal, &s.global, &s.random, &s.best, &s.normalized_gain,
                       &s.global_normalized_gain, &s.personal_beats_global}) {
    *mean /= n;
  }
  return s;
}

double DistinctNgrams(const std::vector<std::string>& texts, int k) {
  std::set<std::string> distinct;
  size_t all = 0;
  for (const std::string& text : texts) {
    const std::vector<absl::string_view> words =
        absl::StrSplit(text, absl::ByAnyChar(" \t\n\r"), absl::SkipEmpty());
    for (size_t i = 0; i + static_cast<size_t>(k) <= words.size(); ++i) {
      distinct.insert(absl::StrJoin(words.begin() + static_cast<std::ptrdiff_t>(i),
                                    words.begin() + static_cast<std::ptrdiff_t>(i) + k, " "));
      ++all;
    }
  }
  return all == 0 ? 0 : static_cast<double>(distinct.size()) / static_cast<double>(all);
}

absl::StatusOr<double> BitsPerByte(LocalTrainer& language_model,
                                   const std::vector<std::string>& texts) {
  TextDataset pool;
  pool.texts = texts;
  std::vector<uint32_t> all(texts.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
  TAILOR_ASSIGN_OR_RETURN(EvalStats stats, language_model.Evaluate(pool, all));
  if (stats.count == 0) return absl::InvalidArgumentError("no text to score");
  return stats.loss_sum / (std::log(2.0) * static_cast<double>(stats.count));
}

}  // namespace tailor
