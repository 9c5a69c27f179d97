// Scorers of text for simulated users' tastes (issue 16; the method of PersonalLLM, Zollo et al.
// 2025: a user's utility is a mixture of fixed, z-scored scorers). Each scorer is a
// deterministic function of the bytes alone, so it scores generated text exactly as it scores a
// real fortune. They live in data/ and only label pairs: no model, trainer or wire message ever
// sees a score.
#ifndef TAILOR_DATA_PREFERENCE_SCORERS_H_
#define TAILOR_DATA_PREFERENCE_SCORERS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tailor {

enum Scorer : int {
  kScoreLength,          // log(1 + bytes)
  kScoreLines,           // lines
  kScoreDialogue,        // 1 when a line opens with a speaker tag ("Q:", "A:", "Mother:")
  kScoreAttribution,     // 1 when the last line is an attribution ("-- Mark Twain")
  kScoreSentiment,       // (positive - negative lexicon words) / sqrt(words)
  kScorePunctuation,     // ASCII punctuation per byte
  kScoreUppercase,       // upper-case letters per letter (Latin, Latin-1, Cyrillic)
  kScoreExclamation,     // '!' per 100 bytes
  kNumScorers
};

using Scores = std::array<double, kNumScorers>;

// The scorers' names, in Scorer order ("length", "lines", ...).
const std::array<const char*, kNumScorers>& ScorerNames();

// Every scorer on `text` (any bytes; invalid UTF-8 is read byte by byte).
Scores ScoreText(absl::string_view text);

// Z-scoring fixed on a reference set of texts (the candidate pool): (score - mean) / std, a
// constant scorer (std 0) scoring 0.
class ScoreNormalizer {
 public:
  explicit ScoreNormalizer(const std::vector<Scores>& reference);
  Scores Normalize(const Scores& raw) const;

 private:
  Scores mean_{};
  Scores inverse_std_{};
};

// An archetype: a weight per z-scored scorer. They come in conflicting pairs (brief and
// raconteur, cheerful and cynic, ...), the second of each pair the first negated.
struct Archetype {
  std::string name;
  Scores weights{};
};
const std::vector<Archetype>& Archetypes();
// The index of `name` in Archetypes(), or -1.
int ArchetypeIndex(absl::string_view name);

}  // namespace tailor

#endif  // TAILOR_DATA_PREFERENCE_SCORERS_H_
