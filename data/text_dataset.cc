#include "data/text_dataset.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <map>
#include <set>
#include <unordered_set>


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/random.h"
#include "core/sha256.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "data/user_jsonl.h"
#include "data/user_split.h"

namespace tailor {
namespace {

std::string TrimTrailingSpace(absl::string_view s) {
  // Trailing whitespace of every line, then leading and trailing blank lines.
  std::string out;
  for (absl::string_view line : absl::StrSplit(s, '\n')) {
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  absl::string_view t = out;
  while (absl::ConsumePrefix(&t, "\n")) {
  }
  return std::string(absl::StripTrailingAsciiWhitespace(t));
}

bool IsSeparator(absl::string_view line) {
  return absl::StripAsciiWhitespace(line) == "%";
}

// The texts between separator lines (which `is_separator` recognizes), trimmed; empty ones
// dropped.
template <typename IsSeparatorLine>
std::vector<std::string> SplitBetween(absl::string_view file, IsSeparatorLine is_separator) {
  std::vector<std::string> out;
  std::string current;
  for (absl::string_view line : absl::StrSplit(file, '\n')) {
    if (is_separator(line)) {
      if (std::string t = TrimTrailingSpace(current); !t.empty()) out.push_back(std::move(t));
      current.clear();
    } else {
      absl::StrAppend(&current, line, "\n");
    }
  }
  if (std::string t = TrimTrailingSpace(current); !t.empty()) out.push_back(std::move(t));
  return out;
}

// Blank-line separated paragraphs, for plain text files without "%" lines.
std::vector<std::string> SplitParagraphs(absl::string_view file) {
  return SplitBetween(file, [](absl::string_view line) {
    return absl::StripAsciiWhitespace(line).empty();
  });
}

std::string UserName(std::string relative) {
  for (const char* suffix : {".u8", ".fortunes"}) {
    if (absl::EndsWith(relative, suffix)) relative.resize(relative.size() - std::strlen(suffix));
  }
  return relative;
}

struct Walk {
  Env* env;
  std::string root_canonical;
  std::set<std::string> seen;  // canonical paths read
  TextCorpus corpus;
};

absl::Status WalkFortunes(Walk& w, const std::string& dir, const std::string& relative_dir) {
  TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> names, w.env->ListDir(dir));
  std::set<std::string> present(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    const std::string relative = relative_dir.empty() ? name : absl::StrCat(relative_dir, "/", name);
    if (w.env->IsDirectory(path)) {
      if (name == "off") {
        w.corpus.skipped.push_back(absl::StrCat(relative, "/: offensive section"));
        continue;
      }
      TAILOR_RETURN_IF_ERROR(WalkFortunes(w, path, relative));
      continue;
    }
    if (absl::EndsWith(name, ".dat")) continue;  // strfile's index, not text
    // "<name>.u8" is the UTF-8 twin of a file in a legacy encoding: read the twin, unless it
    // is empty (fortunes-pl ships empty twins beside files that are UTF-8 already).
    const bool is_twin = absl::EndsWith(name, ".u8");
    const std::string base = is_twin ? name.substr(0, name.size() - 3) : name;
    if (is_twin ? present.count(base) > 0 : present.count(name + ".u8") > 0) {
      absl::StatusOr<std::string> twin = w.env->ReadFile(absl::StrCat(dir, "/", base, ".u8"));
      const bool twin_has_text = twin.ok() && !absl::StripAsciiWhitespace(*twin).empty();
      if (twin_has_text == !is_twin) continue;
    }
    absl::StatusOr<std::string> canonical = w.env->CanonicalPath(path);
    if (!canonical.ok()) {
      w.corpus.skipped.push_back(absl::StrCat(relative, ": ", canonical.status().message()));
      continue;
    }
    if (!w.seen.insert(*canonical).second) continue;  // a link to a file already read
    // Named by where the file really is (it/adams, not the top-level link adams).
    std::string own = relative;
    if (absl::StartsWith(*canonical, w.root_canonical + "/")) {
      own = canonical->substr(w.root_canonical.size() + 1);
    }
    TAILOR_ASSIGN_OR_RETURN(std::string bytes, w.env->ReadFile(path));
    if (!IsValidUtf8(bytes)) {
      w.corpus.skipped.push_back(absl::StrCat(own, ": not UTF-8 text"));
      continue;
    }
    std::vector<std::string> texts = SplitFortunes(bytes);
    if (texts.empty()) {
      w.corpus.skipped.push_back(absl::StrCat(own, ": no fortunes"));
      continue;
    }
    w.corpus.users.push_back({UserName(own), std::move(texts)});
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SplitFortunes(absl::string_view file) {
  return SplitBetween(file, IsSeparator);
}

absl::StatusOr<TextCorpus> LoadFortunes(const std::string& root, Env* env) {
  const std::string hint =
      "install Debian's fortune packages (apt-get install fortunes fortunes-de fortunes-es "
      "fortunes-it; deploy/install-deps.sh does)";
  if (!env->IsDirectory(root)) {
    return absl::NotFoundError(absl::StrCat("no fortune directory ", root, ": ", hint));
  }
  Walk w;
  w.env = env;
  TAILOR_ASSIGN_OR_RETURN(w.root_canonical, env->CanonicalPath(root));
  TAILOR_RETURN_IF_ERROR(WalkFortunes(w, root, ""));
  if (w.corpus.users.empty()) {
    return absl::NotFoundError(absl::StrCat("no fortune files under ", root, ": ", hint));
  }
  std::sort(w.corpus.users.begin(), w.corpus.users.end(),
            [](const TextUser& a, const TextUser& b) { return a.name < b.name; });
  return std::move(w.corpus);
}

absl::StatusOr<TextCorpus> LoadTextDirectory(const std::string& dir, Env* env) {
  if (!env->IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("no text directory ", dir));
  }
  TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  TextCorpus corpus;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (env->IsDirectory(path) || absl::StartsWith(name, ".")) continue;
    TAILOR_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
    if (!IsValidUtf8(bytes) || bytes.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not UTF-8 text (one user's texts per file, in UTF-8)"));
    }
    bool fortune_format = false;
    for (absl::string_view line : absl::StrSplit(bytes, '\n')) fortune_format |= IsSeparator(line);
    std::vector<std::string> texts = fortune_format ? SplitFortunes(bytes) : SplitParagraphs(bytes);
    if (texts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty (no text)"));
    corpus.users.push_back({UserName(name), std::move(texts)});
  }
  if (corpus.users.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no text files"));
  }
  return corpus;
}

absl::StatusOr<TextCorpus> LoadTextJsonl(const std::string& path, Env* env) {
  TAILOR_ASSIGN_OR_RETURN(std::vector<UserJsonlRecord> records,
                          ReadUserJsonl(path, env, {"text"}));
  std::map<std::string, std::vector<std::string>> by_user;
  for (const UserJsonlRecord& r : records) {
    std::string text = TrimTrailingSpace(r.values[0]);
    if (!text.empty()) by_user[r.user].push_back(std::move(text));
  }
  TextCorpus corpus;
  for (auto& [user, texts] : by_user) corpus.users.push_back({user, std::move(texts)});
  if (corpus.users.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no texts"));
  return corpus;
}

absl::StatusOr<TextFederation> FederateTexts(const TextCorpus& corpus,
                                             const TextFederationOptions& options) {
  if (options.min_texts_per_user < 3) {
    return absl::InvalidArgumentError("min_texts_per_user must be >= 3 (train, val, test)");
  }
  std::vector<const TextUser*> users;
  for (const TextUser& u : corpus.users) users.push_back(&u);
  std::sort(users.begin(), users.end(),
            [](const TextUser* a, const TextUser* b) { return a->name < b->name; });
  TextFederation out;
  // Exact duplicates: the first occurrence in user-name order stays.
  std::unordered_set<std::string> seen;
  std::vector<std::pair<const TextUser*, std::vector<std::string>>> kept;
  for (const TextUser* u : users) {
    std::vector<std::string> texts;
    for (const std::string& t : u->texts) {
      std::string normal = TrimTrailingSpace(t);
      if (normal.empty()) continue;
      if (!seen.insert(normal).second) {
        ++out.duplicates_removed;
        continue;
      }
      texts.push_back(std::move(normal));
    }
    if (static_cast<int>(texts.size()) < options.min_texts_per_user) {
      out.dropped.push_back(absl::StrCat(u->name, ": ", texts.size(),
                                         " texts after removing duplicates, fewer than ",
                                         options.min_texts_per_user));
      continue;
    }
    kept.emplace_back(u, std::move(texts));
  }
  TAILOR_ASSIGN_OR_RETURN(
      std::vector<size_t> chosen,
      ChooseClientUsers(kept.size(), options.num_clients, options.held_out, options.seed,
                        absl::StrCat("have ", options.min_texts_per_user,
                                     " or more distinct texts")));
  auto pool = std::make_shared<TextDataset>();
  for (size_t i : chosen) {
    auto& [user, texts] = kept[i];
    std::vector<uint32_t> idx;
    for (std::string& t : texts) {
      idx.push_back(static_cast<uint32_t>(pool->texts.size()));
      pool->texts.push_back(std::move(t));
    }
    out.clients.push_back(SplitUserItems(std::move(idx), user->name, options.val_fraction,
                                         options.test_fraction, options.seed,
                                         static_cast<size_t>(std::max(0, options.max_texts_per_user))));
    out.names.push_back(user->name);
  }
  out.pool = std::move(pool);
  return out;
}

}  // namespace tailor
