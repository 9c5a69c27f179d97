// Users' text for language-model personalization: one client = one user's texts (a fortune
// file of Debian's fortunes packages, a file of a directory, or a user of a JSONL file). The
// loaders read corpora; FederateTexts removes exact duplicates across the whole corpus (so no
// text is both some client's training text and another's test text), drops users with too
// little text (and says which), and splits each user's texts into train / val / test.
#ifndef TAILOR_DATA_TEXT_DATASET_H_
#define TAILOR_DATA_TEXT_DATASET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "data/example_pool.h"
#include "data/partition.h"

namespace tailor {

struct TextDataset : public ExamplePool {
  TaskKind task() const override { return TaskKind::kCausalLanguageModel; }
  size_t size() const override { return texts.size(); }
  std::vector<std::string> texts;
};

// One user's texts, in the order the source holds them.
struct TextUser {
  std::string name;
  std::vector<std::string> texts;
};

struct TextCorpus {
  std::vector<TextUser> users;
  // Sources left out, each with its reason ("off/...: offensive section", "pl/x: not UTF-8").
  std::vector<std::string> skipped;
};

// Where Debian's fortunes packages install (fortunes, fortunes-de, -es, -it, ...).
inline constexpr char kFortunesRoot[] = "/usr/share/games/fortunes";

// Every fortune file under `root` (recursively), one user per file, named by its path under
// root without ".u8" / ".fortunes" ("fortunes", "de/witze", "es/amistad"). A fortune is the
// text between lines holding only "%". Skipped, and listed in `skipped`: off/ (the offensive
// sections), *.dat indexes, a file whose UTF-8 twin "<name>.u8" exists, and files that are
// not UTF-8. A file reached through several names (links) is read once, under its own path.
// NOT_FOUND with the packages to install when root is missing or holds no fortune file.
absl::StatusOr<TextCorpus> LoadFortunes(const std::string& root, Env* env);

// A directory of text files, one user per file (named by the file name); each file's texts are
// separated by lines holding only "%" (fortune format) or, when it has none, by blank lines.
// INVALID_ARGUMENT naming the file for one that is empty or not UTF-8 text.
absl::StatusOr<TextCorpus> LoadTextDirectory(const std::string& dir, Env* env);

// JSON Lines, one object per text with string fields "user" and "text". INVALID_ARGUMENT
// naming the line for a malformed line, a missing field or text that is not UTF-8.
absl::StatusOr<TextCorpus> LoadTextJsonl(const std::string& path, Env* env);

struct TextFederationOptions {
  // Users with fewer texts than this after duplicates are removed are dropped.
  int min_texts_per_user = 50;
  // At most this many of a user's distinct texts are kept (a sample drawn by `seed`); 0: all.
  int max_texts_per_user = 0;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  // How many users become clients (0: all that qualify), drawn by `seed`; FAILED_PRECONDITION
  // when fewer qualify.
  int num_clients = 0;
  // How many of the clients are held out of training (the coordinator's new clients: the last
  // ids). Which users they are is drawn by `seed`, not their names.
  int held_out = 0;
  uint64_t seed = 1;
};

struct TextFederation {
  std::shared_ptr<const TextDataset> pool;
  // Per client: indices into pool->texts. Client i is user names[i]: the clients that train,
  // sorted by name, then the held-out ones, sorted by name.
  std::vector<ClientSplit> clients;
  std::vector<std::string> names;
  int64_t duplicates_removed = 0;
  // Users left out, with why ("de/huhn: 12 texts after removing duplicates, fewer than 50").
  std::vector<std::string> dropped;
};

// Removes exact duplicates across users (texts compared after trimming trailing whitespace;
// the first occurrence in user-name order stays), drops users below min_texts_per_user, draws
// num_clients users, and splits each user's texts: ceil(test_fraction·n) test,
// ceil(val_fraction·n) val, the rest train, after a shuffle seeded by (seed, user name).
absl::StatusOr<TextFederation> FederateTexts(const TextCorpus& corpus,
                                             const TextFederationOptions& options);

// Splits fortune-format text into its texts (trailing whitespace trimmed, empty ones dropped).
std::vector<std::string> SplitFortunes(absl::string_view file);

}  // namespace tailor

#endif  // TAILOR_DATA_TEXT_DATASET_H_
