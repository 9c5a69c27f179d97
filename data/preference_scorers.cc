#include "data/preference_scorers.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tailor {
namespace {

// One code point from the front of `s` (advancing it); a byte that does not start a valid
// sequence is taken alone, as its own value.
uint32_t NextCodePoint(absl::string_view* s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s->data());
  const size_t n = s->size();
  int len = 1;
  uint32_t cp = p[0];
  if (p[0] >= 0xC2 && p[0] <= 0xDF && n >= 2 && (p[1] & 0xC0) == 0x80) {
    len = 2;
    cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  } else if (p[0] >= 0xE0 && p[0] <= 0xEF && n >= 3 && (p[1] & 0xC0) == 0x80 &&
             (p[2] & 0xC0) == 0x80) {
    len = 3;
    cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  } else if (p[0] >= 0xF0 && p[0] <= 0xF4 && n >= 4 && (p[1] & 0xC0) == 0x80 &&
             (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
    len = 4;
    cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  }
  s->remove_prefix(static_cast<size_t>(len));
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Letter case for the scripts of the fortune corpora: Latin, Latin-1, Cyrillic.
bool IsUpper(uint32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
         (c >= 0x410 && c <= 0x42F) || c == 0x401;
}
bool IsLower(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7) ||
         (c >= 0x430 && c <= 0x44F) || c == 0x451;
}
uint32_t ToLower(uint32_t c) {
  if (c == 0x401) return 0x451;
  if ((c >= 0x410 && c <= 0x42F)) return c + 0x20;
  return IsUpper(c) ? c + 0x20 : c;
}

// Stems of a small sentiment lexicon in the corpora's languages (English, German, Spanish,
// Italian, Russian...). A word counts when it equals a stem, or starts with one of four or more
// bytes ("love" counts "loved", "lovely").
const std::vector<std::string>& PositiveStems() {
  static const auto* stems = new std::vector<std::string>{
      "love", "happ", "joy", "good", "great", "wonderf", "beaut", "best", "friend", "laugh",
      "smil", "hope", "peace", "kind", "sweet", "win", "fun", "delight", "bless", "glad",
      "liebe", "glück", "freude", "gut", "schön", "freund", "lachen", "amor", "feliz", "alegr",
      "bueno", "bien", "amig", "risa", "esperanz", "amore", "felic", "gioia", "buon", "bell",
      "amic", "любов", "счаст", "радост", "хорош", "друг", "смех", "весел"};
  return *stems;
}
const std::vector<std::string>& NegativeStems() {
  static const auto* stems = new std::vector<std::string>{
      "hate", "sad", "death", "die", "dead", "war", "pain", "bad", "worst", "fear", "cry",
      "kill", "sorrow", "miser", "enem", "fail", "lose", "poor", "sick", "evil", "hell", "hass",
      "tod", "krieg", "schmerz", "schlecht", "angst", "traurig", "odio", "muert", "guerra",
      "dolor", "malo", "miedo", "triste", "morte", "dolore", "cattiv", "paura", "смерт",
      "войн", "боль", "плох", "страх", "горе", "тоск"};
  return *stems;
}

bool Matches(const std::string& word, const std::vector<std::string>& stems) {
  for (const std::string& s : stems) {
    if (word == s || (s.size() >= 4 && word.size() > s.size() && word.compare(0, s.size(), s) == 0)) {
      return true;
    }
  }
  return false;
}

bool IsSpeakerTag(absl::string_view line) {
  line = absl::StripLeadingAsciiWhitespace(line);
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > 12) return false;
  for (char c : line.substr(0, colon)) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c)) &&
        !(static_cast<unsigned char>(c) & 0x80)) {
      return false;
    }
  }
  return colon + 1 == line.size() || line[colon + 1] == ' ';
}

}  // namespace

const std::array<const char*, kNumScorers>& ScorerNames() {
  static const std::array<const char*, kNumScorers> names = {
      "length", "lines", "dialogue", "attribution", "sentiment", "punctuation", "uppercase",
      "exclamation"};
  return names;
}

Scores ScoreText(absl::string_view text) {
  Scores s{};
  s[kScoreLength] = std::log1p(static_cast<double>(text.size()));
  const std::vector<absl::string_view> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n');
  s[kScoreLines] = text.empty() ? 0 : static_cast<double>(lines.size());
  for (absl::string_view line : lines) {
    if (IsSpeakerTag(line)) s[kScoreDialogue] = 1;
  }
  if (lines.size() > 1) {
    absl::string_view last = absl::StripLeadingAsciiWhitespace(lines.back());
    if (absl::StartsWith(last, "--") || absl::StartsWith(last, "\xE2\x80\x94")) {
      s[kScoreAttribution] = 1;
    }
  }
  int64_t upper = 0, letters = 0, punctuation = 0, exclamations = 0, words = 0, sentiment = 0;
  std::string word;
  auto end_word = [&] {
    if (word.empty()) return;
    ++words;
    if (Matches(word, PositiveStems())) ++sentiment;
    if (Matches(word, NegativeStems())) --sentiment;
    word.clear();
  };
  for (absl::string_view rest = text; !rest.empty();) {
    const uint32_t c = NextCodePoint(&rest);
    if (c < 0x80 && absl::ascii_ispunct(static_cast<unsigned char>(c))) ++punctuation;
    if (c == '!') ++exclamations;
    const bool up = IsUpper(c), low = IsLower(c);
    if (up || low) {
      ++letters;
      upper += up ? 1 : 0;
      AppendUtf8(ToLower(c), &word);
    } else {
      end_word();
    }
  }
  end_word();
  const double bytes = std::max<double>(1, static_cast<double>(text.size()));
  s[kScoreSentiment] = words == 0 ? 0 : static_cast<double>(sentiment) / std::sqrt(words);
  s[kScorePunctuation] = static_cast<double>(punctuation) / bytes;
  s[kScoreUppercase] = letters == 0 ? 0 : static_cast<double>(upper) / static_cast<double>(letters);
  s[kScoreExclamation] = 100.0 * static_cast<double>(exclamations) / bytes;
  return s;
}

ScoreNormalizer::ScoreNormalizer(const std::vector<Scores>& reference) {
  const double n = static_cast<double>(reference.size());
  for (int k = 0; k < kNumScorers; ++k) {
    double sum = 0, sq = 0;
    for (const Scores& s : reference) sum += s[k];
    mean_[k] = n > 0 ? sum / n : 0;
    for (const Scores& s : reference) sq += (s[k] - mean_[k]) * (s[k] - mean_[k]);
    const double std = n > 1 ? std::sqrt(sq / (n - 1)) : 0;
    inverse_std_[k] = std > 1e-12 ? 1.0 / std : 0;
  }
}

Scores ScoreNormalizer::Normalize(const Scores& raw) const {
  Scores z{};
  for (int k = 0; k < kNumScorers; ++k) z[k] = (raw[k] - mean_[k]) * inverse_std_[k];
  return z;
}

const std::vector<Archetype>& Archetypes() {
  static const auto* archetypes = [] {
    auto* list = new std::vector<Archetype>;
    auto pair = [&](const char* name, const char* opposite, Scores w) {
      list->push_back({name, w});
      for (double& v : w) v = -v;
      list->push_back({opposite, w});
    };
    Scores brief{};
    brief[kScoreLength] = 1;
    brief[kScoreLines] = 0.5;
    for (double& v : brief) v = -v;
    pair("brief", "raconteur", brief);
    Scores cheerful{};
    cheerful[kScoreSentiment] = 1;
    pair("cheerful", "cynic", cheerful);
    Scores quoter{};
    quoter[kScoreAttribution] = 1;
    pair("quoter", "anonymous", quoter);
    Scores dialogue{};
    dialogue[kScoreDialogue] = 1;
    pair("dialogue", "prose", dialogue);
    Scores emphatic{};
    emphatic[kScoreExclamation] = 1;
    emphatic[kScoreUppercase] = 0.5;
    pair("emphatic", "calm", emphatic);
    Scores ornate{};
    ornate[kScorePunctuation] = 1;
    pair("ornate", "plain", ornate);
    return list;
  }();
  return *archetypes;
}

int ArchetypeIndex(absl::string_view name) {
  const std::vector<Archetype>& all = Archetypes();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace tailor
