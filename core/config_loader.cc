#include "core/config_loader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/few_shot.h"
#include "core/status_macros.h"
#include "core/update_codec.h"
#include "core/utf8.h"
#include "client/algorithm.h"
#include "data/dataset_registry.h"
#include "data/federated_dataset.h"
#include "models/model_spec.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace tailor {
namespace {

using config::ExperimentConfig;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      line_ = line;
      column_ = column;
      message_ = message;
    }
  }
  bool has_error() const { return has_error_; }
  std::string Format(const std::string& source) const {
    // The tokenizer's lines and columns are zero-based; editors count from one.
    return absl::StrCat(source, ":", line_ + 1, ":", column_ + 1, ": ", message_);
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

// Field validation with source locations from the parser's ParseInfoTree.
class Checker {
 public:
  Checker(const std::string& source, const TextFormat::ParseInfoTree* tree)
      : source_(source), tree_(tree) {}

  // INVALID_ARGUMENT "source:line:col: path: message" (location omitted when the field was
  // not in the file, e.g. it came from an override or a default).
  absl::Status Fail(const std::string& path, const std::string& message) const {
    int line = -1, column = -1;
    Locate(path, &line, &column);
    if (line >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", path, ": ", message));
    }
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", message));
  }

 private:
  void Locate(const std::string& path, int* line, int* column) const {
    const Descriptor* desc = ExperimentConfig::descriptor();
    const TextFormat::ParseInfoTree* tree = tree_;
    std::vector<std::string> parts = absl::StrSplit(path, '.');
    for (size_t i = 0; i < parts.size() && tree != nullptr && desc != nullptr; ++i) {
      const FieldDescriptor* field = desc->FindFieldByName(parts[i]);
      if (field == nullptr) return;
      const int index = field->is_repeated() ? 0 : -1;
      if (i + 1 == parts.size()) {
        auto loc = tree->GetLocation(field, index);
        *line = loc.line;
        *column = loc.column;
        return;
      }
      tree = tree->GetTreeForNested(field, index);
      desc = field->message_type();
    }
  }

  std::string source_;
  const TextFormat::ParseInfoTree* tree_;
};

template <typename T>
bool OneOf(const T& value, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return value == a; });
}

bool IsTextDataset(const std::string& dataset) {
  const DatasetInfo* info = FindDataset(dataset);
  return info != nullptr && info->text;
}

void ApplyDefaults(ExperimentConfig* c) {
  auto* data = c->mutable_data();
  if (data->dataset().empty()) data->set_dataset("fashion_mnist");
  if (const DatasetInfo* info = FindDataset(data->dataset()); info && data->path().empty()) {
    data->set_path(info->default_path);
  }
  if (!data->has_train_fraction()) data->set_train_fraction(0.75);
  if (IsTextDataset(data->dataset())) {
    auto* text = data->mutable_text();
    if (!text->has_min_texts_per_client()) text->set_min_texts_per_client(50);
    if (!text->has_val_fraction()) text->set_val_fraction(0.1);
    if (!text->has_test_fraction()) text->set_test_fraction(0.1);
  } else if (const DatasetInfo* info = FindDataset(data->dataset()); info && info->preference) {
    auto* p = data->mutable_preference();
    if (!p->has_min_pairs_per_client()) p->set_min_pairs_per_client(10);
    if (!p->has_val_fraction()) p->set_val_fraction(0.1);
    if (!p->has_test_fraction()) p->set_test_fraction(0.2);
  } else if (data->partition_case() == config::DataConfig::PARTITION_NOT_SET) {
    data->mutable_iid();
  }
  if (data->has_dirichlet()) {
    auto* d = data->mutable_dirichlet();
    if (!d->has_min_samples_per_client()) d->set_min_samples_per_client(40);
    if (!d->has_max_attempts()) d->set_max_attempts(1000);
  }
  if (c->model().architecture().empty()) c->mutable_model()->set_architecture("fmnist_cnn");
  auto* train = c->mutable_train();
  if (!train->has_learning_rate()) train->set_learning_rate(0.005);
  if (!train->has_batch_size()) train->set_batch_size(10);
  if (!train->has_local_epochs()) train->set_local_epochs(1);
  if (IsTextDataset(data->dataset())) {
    auto* pretrain = c->mutable_pretrain();
    if (!pretrain->has_steps()) pretrain->set_steps(2000);
    if (!pretrain->has_eval_every_steps()) pretrain->set_eval_every_steps(200);
    if (!pretrain->has_learning_rate()) pretrain->set_learning_rate(train->learning_rate());
    if (!pretrain->has_momentum()) pretrain->set_momentum(train->momentum());
  }
  if (c->algorithm().name().empty()) c->mutable_algorithm()->set_name("fedavg");
  if (!c->algorithm().has_head_epochs()) c->mutable_algorithm()->set_head_epochs(1);
  if (!c->algorithm().has_finetune_epochs()) c->mutable_algorithm()->set_finetune_epochs(1);
  auto* algorithm = c->mutable_algorithm();
  if (!algorithm->has_ditto_lambda()) algorithm->set_ditto_lambda(0.1);
  if (!algorithm->has_personal_epochs()) algorithm->set_personal_epochs(1);
  if (!algorithm->has_apfl_alpha()) algorithm->set_apfl_alpha(1.0);
  if (!algorithm->has_ala_learning_rate()) algorithm->set_ala_learning_rate(1.0);
  if (!algorithm->has_ala_data_fraction()) algorithm->set_ala_data_fraction(0.8);
  if (!algorithm->has_ala_layers()) algorithm->set_ala_layers(2);
  if (!algorithm->has_fedbn_recalibrate()) algorithm->set_fedbn_recalibrate(false);
  if (!train->has_proximal_mu()) {
    train->set_proximal_mu(c->algorithm().name() == "fedprox" ? 0.01 : 0.0);
  }
  if (!train->dp_sgd().has_delta()) train->mutable_dp_sgd()->set_delta(1e-5);
  if (c->upload().codec().empty()) c->mutable_upload()->set_codec("none");
  if (!c->upload().has_topk_fraction()) c->mutable_upload()->set_topk_fraction(0.01);
  if (c->server().aggregator().empty()) c->mutable_server()->set_aggregator("weighted_mean");
  auto* server = c->mutable_server();
  if (!server->has_server_learning_rate()) server->set_server_learning_rate(1.0);
  if (server->optimizer().empty()) server->set_optimizer("sgd");
  if (!server->has_server_momentum()) server->set_server_momentum(0.9);
  if (!server->has_beta1()) server->set_beta1(0.9);
  if (!server->has_beta2()) server->set_beta2(0.99);
  if (!server->has_tau()) server->set_tau(1e-3);
  if (!server->has_aggregation_buffer_mb()) server->set_aggregation_buffer_mb(4096);
  if (server->short_round().empty()) server->set_short_round("retry");
  if (!server->has_max_round_attempts()) server->set_max_round_attempts(10);
  if (!server->has_keep_models()) server->set_keep_models(3);
  auto* attack = c->mutable_simulation()->mutable_attack();
  if (attack->kind().empty()) attack->set_kind("sign_flip");
  if (!attack->has_scale()) attack->set_scale(100);
  auto* privacy = c->mutable_privacy();
  if (!privacy->has_delta()) privacy->set_delta(1e-5);
  if (privacy->sampling_rate() == 0) {
    const int k = c->server().clients_per_round();
    privacy->set_sampling_rate(k == 0 || c->data().num_clients() < 1
                                   ? 1.0
                                   : static_cast<double>(k) / c->data().num_clients());
  }
  auto* secure = c->mutable_secure_aggregation();
  if (!secure->has_dropout()) secure->set_dropout(0.1);
  if (!secure->has_corrupt()) secure->set_corrupt(0);
  if (secure->max_weight() == 0) secure->set_max_weight(100000);
  auto* adaptive = privacy->mutable_adaptive_clipping();
  if (!adaptive->has_target_quantile()) adaptive->set_target_quantile(0.5);
  if (!adaptive->has_learning_rate()) adaptive->set_learning_rate(0.2);
  if (!c->eval().has_every_rounds()) c->mutable_eval()->set_every_rounds(1);
  if (!c->eval().has_new_client_epochs()) c->mutable_eval()->set_new_client_epochs(1);
  if (c->output_dir().empty()) c->set_output_dir(absl::StrCat("runs/", c->name()));
}

bool InUnitInterval(double x) { return x >= 0 && x < 1; }

absl::Status ValidateServerOptimizer(const config::ServerConfig& s, const Checker& check) {
  if (!OneOf(s.optimizer(), {"sgd", "fedavgm", "fedadagrad", "fedadam", "fedyogi"})) {
    return check.Fail("server.optimizer",
                      absl::StrCat("unknown server optimizer '", s.optimizer(),
                                   "' (known: sgd, fedavgm, fedadagrad, fedadam, fedyogi)"));
  }
  if (!InUnitInterval(s.server_momentum())) {
    return check.Fail("server.server_momentum",
                      absl::StrCat("must be in [0, 1), got ", s.server_momentum()));
  }
  if (!InUnitInterval(s.beta1())) {
    return check.Fail("server.beta1", absl::StrCat("must be in [0, 1), got ", s.beta1()));
  }
  if (!InUnitInterval(s.beta2())) {
    return check.Fail("server.beta2", absl::StrCat("must be in [0, 1), got ", s.beta2()));
  }
  if (!(s.tau() > 0) || !std::isfinite(s.tau())) {
    return check.Fail("server.tau", absl::StrCat("must be finite and > 0, got ", s.tau()));
  }
  return absl::OkStatus();
}

// Krum's guarantee needs n > 2f + 2 updates; checked against the smallest round that can close.
absl::Status ValidateKrum(const config::ServerConfig& s, int smallest_round, const Checker& check) {
  const bool krum = s.aggregator() == "krum" || s.aggregator() == "multi_krum";
  if (!krum) {
    if (s.has_byzantine_clients() || s.multi_krum_selected() != 0) {
      return check.Fail(
          s.has_byzantine_clients() ? "server.byzantine_clients" : "server.multi_krum_selected",
          absl::StrCat("applies to krum and multi_krum, not to ", s.aggregator()));
    }
    return absl::OkStatus();
  }
  const int f = s.has_byzantine_clients() ? s.byzantine_clients() : smallest_round / 5;
  if (f < 0 || smallest_round <= 2 * f + 2) {
    return check.Fail("server.byzantine_clients",
                      absl::StrCat(s.aggregator(), " tolerating f=", f,
                                   " Byzantine clients needs rounds of more than 2f+2=", 2 * f + 2,
                                   " updates; the smallest round here has ", smallest_round));
  }
  if (s.multi_krum_selected() < 0 || s.multi_krum_selected() > smallest_round - f ||
      (s.multi_krum_selected() != 0 && s.aggregator() == "krum")) {
    return check.Fail("server.multi_krum_selected",
                      absl::StrCat("must be 0 (= updates - f) or in [1, ", smallest_round - f,
                                   "] for multi_krum, got ", s.multi_krum_selected()));
  }
  return absl::OkStatus();
}

bool FiniteAtLeastZero(double x) { return x >= 0 && std::isfinite(x); }

absl::Status ValidateSecureAggregation(const ExperimentConfig& c, const Checker& check) {
  const auto& s = c.secure_aggregation();
  if (!OneOf(s.mode(), {"", "secagg", "secagg_plus"})) {
    return check.Fail("secure_aggregation.mode",
                      absl::StrCat("unknown mode '", s.mode(), "' (known: secagg, secagg_plus)"));
  }
  if (s.mode().empty()) return absl::OkStatus();
  if (c.server().aggregator() != "weighted_mean") {
    return check.Fail("server.aggregator",
                      absl::StrCat("secure aggregation sums updates: it needs weighted_mean, not ",
                                   c.server().aggregator()));
  }
  if (s.distributed_noise() && !PrivacyEnabled(c)) {
    return check.Fail("secure_aggregation.distributed_noise",
                      "needs privacy (it is the clients' share of DP's noise)");
  }
  if (s.distributed_noise() && c.privacy().adaptive_clipping().enabled()) {
    return check.Fail("secure_aggregation.distributed_noise",
                      "not with privacy.adaptive_clipping: the coordinator would see the exact "
                      "count of clients within the clip norm");
  }
  if (PrivacyEnabled(c)) {
    // Central DP on the unmasked sum: clients clip to privacy.clip_norm (adaptive or not) and
    // round to the DP grid; a second clip norm would only confuse which one bounds an update.
    if (s.clip_norm() != 0) {
      return check.Fail("secure_aggregation.clip_norm",
                        "leave it unset under differential privacy: privacy.clip_norm bounds "
                        "each update");
    }
  } else if (!(s.clip_norm() > 0) || !std::isfinite(s.clip_norm())) {
    return check.Fail("secure_aggregation.clip_norm",
                      absl::StrCat("must be finite and > 0 (the field is sized from it), got ",
                                   s.clip_norm()));
  }
  if (s.threshold() < 0 || s.threshold() == 1) {
    return check.Fail("secure_aggregation.threshold",
                      absl::StrCat("must be 0 (chosen) or >= 2, got ", s.threshold()));
  }
  if (s.neighbours() < 0 || s.neighbours() % 2 != 0) {
    return check.Fail("secure_aggregation.neighbours",
                      absl::StrCat("must be 0 (chosen) or even and > 0, got ", s.neighbours()));
  }
  if (!(s.dropout() >= 0 && s.dropout() < 1)) {
    return check.Fail("secure_aggregation.dropout", absl::StrCat("must be in [0, 1), got ", s.dropout()));
  }
  if (!(s.corrupt() >= 0 && s.corrupt() < 0.5)) {
    return check.Fail("secure_aggregation.corrupt", absl::StrCat("must be in [0, 0.5), got ", s.corrupt()));
  }
  if (s.max_weight() < 1) {
    return check.Fail("secure_aggregation.max_weight", absl::StrCat("must be >= 1, got ", s.max_weight()));
  }
  if (!FiniteAtLeastZero(s.phase_timeout_seconds())) {
    return check.Fail("secure_aggregation.phase_timeout_seconds",
                      absl::StrCat("must be finite and >= 0, got ", s.phase_timeout_seconds()));
  }
  const auto& d = s.simulated_dropout();
  for (const auto& [name, value] :
       {std::pair<const char*, double>{"before_advertise", d.before_advertise()},
        {"after_advertise", d.after_advertise()},
        {"after_share", d.after_share()},
        {"after_input", d.after_input()}}) {
    if (!(value >= 0 && value <= 1)) {
      return check.Fail(absl::StrCat("secure_aggregation.simulated_dropout.", name),
                        absl::StrCat("must be in [0, 1], got ", value));
    }
  }
  for (const auto& at : d.at()) {
    if (SecAggBoundaryIndex(at.boundary()) < 0) {
      return check.Fail("secure_aggregation.simulated_dropout.at.boundary",
                        absl::StrCat("must be before_advertise, after_advertise, after_share or "
                                     "after_input, got '", at.boundary(), "'"));
    }
    if (at.round() < 1 || at.client() < 0) {
      return check.Fail("secure_aggregation.simulated_dropout.at",
                        absl::StrCat("needs a round >= 1 and a client id >= 0, got round ",
                                     at.round(), " client ", at.client()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int SecAggBoundaryIndex(absl::string_view boundary) {
  static constexpr const char* kNames[] = {"before_advertise", "after_advertise", "after_share",
                                           "after_input"};
  for (int i = 0; i < 4; ++i) {
    if (boundary == kNames[i]) return i;
  }
  return -1;
}

namespace {

absl::Status ValidatePrivacy(const ExperimentConfig& c, const Checker& check) {
  const auto& p = c.privacy();
  for (const auto& [name, value] : {std::pair<const char*, double>{"clip_norm", p.clip_norm()},
                                    {"noise_multiplier", p.noise_multiplier()},
                                    {"target_epsilon", p.target_epsilon()},
                                    {"epsilon_budget", p.epsilon_budget()}}) {
    if (!FiniteAtLeastZero(value)) {
      return check.Fail(absl::StrCat("privacy.", name),
                        absl::StrCat("must be finite and >= 0, got ", value));
    }
  }
  if (!(p.delta() > 0 && p.delta() < 1)) {
    return check.Fail("privacy.delta", absl::StrCat("must be in (0, 1), got ", p.delta()));
  }
  if (!(p.sampling_rate() > 0 && p.sampling_rate() <= 1)) {
    return check.Fail("privacy.sampling_rate",
                      absl::StrCat("must be in (0, 1], got ", p.sampling_rate()));
  }
  if (!OneOf(p.noise(), {"", "secure", "reproducible"})) {
    return check.Fail("privacy.noise", absl::StrCat("unknown noise source '", p.noise(),
                                                    "' (known: secure, reproducible)"));
  }
  const auto& a = p.adaptive_clipping();
  if (!(a.target_quantile() > 0 && a.target_quantile() < 1)) {
    return check.Fail("privacy.adaptive_clipping.target_quantile",
                      absl::StrCat("must be in (0, 1), got ", a.target_quantile()));
  }
  if (!(a.learning_rate() > 0) || !std::isfinite(a.learning_rate())) {
    return check.Fail("privacy.adaptive_clipping.learning_rate",
                      absl::StrCat("must be finite and > 0, got ", a.learning_rate()));
  }
  if (!FiniteAtLeastZero(a.count_stddev())) {
    return check.Fail("privacy.adaptive_clipping.count_stddev",
                      absl::StrCat("must be finite and >= 0, got ", a.count_stddev()));
  }
  const auto& sgd = c.train().dp_sgd();
  if (!FiniteAtLeastZero(sgd.clip_norm())) {
    return check.Fail("train.dp_sgd.clip_norm",
                      absl::StrCat("must be finite and >= 0, got ", sgd.clip_norm()));
  }
  if (sgd.clip_norm() > 0 && !(sgd.noise_multiplier() > 0 && std::isfinite(sgd.noise_multiplier()))) {
    return check.Fail("train.dp_sgd.noise_multiplier",
                      absl::StrCat("must be finite and > 0 with DP-SGD, got ",
                                   sgd.noise_multiplier()));
  }
  if (!(sgd.delta() > 0 && sgd.delta() < 1)) {
    return check.Fail("train.dp_sgd.delta", absl::StrCat("must be in (0, 1), got ", sgd.delta()));
  }
  if (sgd.clip_norm() > 0 && IsTextDataset(c.data().dataset())) {
    // A text longer than the context trains as several windows: one record, several units,
    // which per-example clipping would account as several records.
    return check.Fail("train.dp_sgd.clip_norm",
                      "sample-level DP-SGD is for image datasets; text records are not yet "
                      "accounted per text");
  }
  if (!PrivacyEnabled(c)) return absl::OkStatus();
  // Privacy is on: the rest of the config must not undo it.
  if (p.clip_norm() == 0) {
    return check.Fail("privacy.clip_norm", "must be > 0 when privacy is on");
  }
  if (p.noise_multiplier() == 0 && p.target_epsilon() == 0) {
    return check.Fail("privacy.noise_multiplier",
                      "set it, or privacy.target_epsilon to derive it; a clip norm alone "
                      "gives no privacy");
  }
  if (c.server().aggregator() != "weighted_mean" || c.server().norm_bound() > 0) {
    return check.Fail("server.aggregator",
                      "privacy replaces the aggregator with the noised mean of clipped updates; "
                      "leave server.aggregator and server.norm_bound unset");
  }
  if (c.server().min_updates() != 0) {
    return check.Fail("server.min_updates",
                      "must be 0 with privacy: a Poisson-sampled round may be small or empty, "
                      "and its noised mean is defined either way");
  }
  if (c.simulation().attack().byzantine_fraction() > 0) {
    return check.Fail("simulation.attack.byzantine_fraction",
                      "attack simulation and privacy are not combined");
  }
  return absl::OkStatus();
}

// A registry's refusal: "transformer.heads: must divide..." names an option of `section`;
// anything else is about `what` (the architecture, the algorithm's name).
absl::Status FailNamingOption(const Checker& check, absl::string_view section,
                              absl::string_view what, const absl::Status& refusal) {
  const std::string message(refusal.message());
  const size_t colon = message.find(": ");
  if (refusal.code() == absl::StatusCode::kInvalidArgument && colon != std::string::npos &&
      message.find(' ') > colon) {
    return check.Fail(absl::StrCat(section, ".", message.substr(0, colon)),
                      message.substr(colon + 2));
  }
  return check.Fail(absl::StrCat(section, ".", what), message);
}

absl::Status Validate(const ExperimentConfig& c, const Checker& check) {
  // The name becomes a directory (runs/NAME, a client's STATE_DIR/NAME): one plain path
  // component, so "../../etc/x" cannot put a run outside its directory.
  const std::string& name = c.name();
  const bool plain = !name.empty() && name.size() <= 128 && name[0] != '.' &&
                     std::all_of(name.begin(), name.end(), [](char ch) {
                       return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
                              ch == '-' || ch == '.';
                     });
  if (!plain) {
    return check.Fail("name", absl::StrCat("'", name,
                                           "' must be 1-128 letters, digits, '_', '-' or '.', "
                                           "not starting with '.' (it names a directory)"));
  }
  if (c.rounds() < 1) return check.Fail("rounds", absl::StrCat("must be >= 1, got ", c.rounds()));
  const auto& data = c.data();
  const DatasetInfo* dataset = FindDataset(data.dataset());
  if (dataset == nullptr) {
    return check.Fail("data.dataset", absl::StrCat("unknown dataset '", data.dataset(),
                                                   "' (known: ", DatasetNames(), ")"));
  }
  if (dataset->preference) {
    if (data.path().empty()) {
      return check.Fail("data.path", absl::StrCat("dataset '", data.dataset(), "' needs a path"));
    }
    if (data.partition_case() != config::DataConfig::PARTITION_NOT_SET || data.max_samples()) {
      return check.Fail("data.dataset", "preference datasets are split by user (one client per "
                                        "user); remove iid/dirichlet/shards and max_samples");
    }
    const auto& p = data.preference();
    if (p.archetype_users() && data.dataset() != "preference_fortunes") {
      return check.Fail("data.preference.archetype_users",
                        "simulates labellers of the fortunes; it needs dataset preference_fortunes");
    }
    if (!p.candidates_path().empty() && data.dataset() != "preference_fortunes") {
      return check.Fail("data.preference.candidates_path",
                        "replaces the fortunes simulated users judge; it needs dataset "
                        "preference_fortunes");
    }
    if (p.min_pairs_per_client() < 3) {
      return check.Fail("data.preference.min_pairs_per_client",
                        absl::StrCat("must be >= 3, got ", p.min_pairs_per_client()));
    }
    if (!(p.val_fraction() >= 0 && p.val_fraction() < 0.5)) {
      return check.Fail("data.preference.val_fraction", "must be in [0, 0.5)");
    }
    if (!(p.test_fraction() > 0 && p.test_fraction() < 0.5)) {
      return check.Fail("data.preference.test_fraction", "must be in (0, 0.5)");
    }
    // The simulation's own checks, each named under data.preference.
    if (absl::Status s = ValidateSimulatedUserOptions(
            SimulatedUserOptionsOf(p, data, c.eval().new_clients(), 0));
        !s.ok()) {
      return FailNamingOption(check, "data.preference", "alpha", s);
    }
  }
  if (IsTextDataset(data.dataset())) {
    if (data.path().empty()) {
      return check.Fail("data.path", absl::StrCat("dataset '", data.dataset(), "' needs a path"));
    }
    if (data.partition_case() != config::DataConfig::PARTITION_NOT_SET) {
      return check.Fail("data.dataset", "text datasets are split by user (one client per user), "
                                        "not by a partition; remove iid/dirichlet/shards");
    }
    if (data.max_samples() != 0) {
      return check.Fail("data.max_samples", "is for image datasets; text clients are users");
    }
    const auto& t = data.text();
    if (t.min_texts_per_client() < 3) {
      return check.Fail("data.text.min_texts_per_client",
                        absl::StrCat("must be >= 3 (train, val and test), got ",
                                     t.min_texts_per_client()));
    }
    for (const auto& [field, value] : {std::pair<const char*, double>{"val_fraction", t.val_fraction()},
                                       {"test_fraction", t.test_fraction()}}) {
      if (!(value >= 0 && value < 0.5)) {
        return check.Fail(absl::StrCat("data.text.", field),
                          absl::StrCat("must be in [0, 0.5), got ", value));
      }
    }
    if (t.max_texts_per_client() != 0 && t.max_texts_per_client() < t.min_texts_per_client()) {
      return check.Fail("data.text.max_texts_per_client",
                        absl::StrCat("must be 0 (all) or >= min_texts_per_client (",
                                     t.min_texts_per_client(), "), got ", t.max_texts_per_client()));
    }
    if (!(t.test_fraction() > 0)) {
      return check.Fail("data.text.test_fraction", "must be > 0 (every client is evaluated)");
    }
    const auto& p = c.pretrain();
    if (p.steps() < 1) {
      return check.Fail("pretrain.steps", absl::StrCat("must be >= 1, got ", p.steps()));
    }
    if (p.eval_every_steps() < 1) {
      return check.Fail("pretrain.eval_every_steps",
                        absl::StrCat("must be >= 1, got ", p.eval_every_steps()));
    }
    if (!(p.learning_rate() > 0) || !std::isfinite(p.learning_rate())) {
      return check.Fail("pretrain.learning_rate",
                        absl::StrCat("must be > 0, got ", p.learning_rate()));
    }
    if (!(p.momentum() >= 0 && p.momentum() < 1)) {
      return check.Fail("pretrain.momentum", absl::StrCat("must be in [0, 1), got ", p.momentum()));
    }
  } else if (c.has_pretrain()) {
    return check.Fail("pretrain", "is for language models on text datasets");
  } else if (data.has_text()) {
    return check.Fail("data.text", absl::StrCat("is for text datasets, not '", data.dataset(), "'"));
  }
  if (data.num_clients() < 1) {
    return check.Fail("data.num_clients", absl::StrCat("must be >= 1, got ", data.num_clients()));
  }
  if (data.max_samples() < 0) {
    return check.Fail("data.max_samples", absl::StrCat("must be >= 0, got ", data.max_samples()));
  }
  if (!(data.train_fraction() > 0 && data.train_fraction() < 1)) {
    return check.Fail("data.train_fraction",
                      absl::StrCat("must be in (0, 1), got ", data.train_fraction()));
  }
  if (data.has_dirichlet()) {
    const auto& d = data.dirichlet();
    if (!(d.alpha() > 0) || !std::isfinite(d.alpha())) {
      return check.Fail("data.dirichlet.alpha", absl::StrCat("must be > 0, got ", d.alpha()));
    }
    if (d.min_samples_per_client() < 0) {
      return check.Fail("data.dirichlet.min_samples_per_client",
                        absl::StrCat("must be >= 0, got ", d.min_samples_per_client()));
    }
    if (d.max_attempts() < 1) {
      return check.Fail("data.dirichlet.max_attempts",
                        absl::StrCat("must be >= 1, got ", d.max_attempts()));
    }
    if (d.per_client() && d.has_pfllib_numpy_seed()) {
      return check.Fail("data.dirichlet.per_client",
                        "PFLlib's partition (pfllib_numpy_seed) splits per class; set one or the "
                        "other");
    }
  }
  if (data.has_shards() && data.shards().classes_per_client() < 1) {
    return check.Fail("data.shards.classes_per_client",
                      absl::StrCat("must be >= 1, got ", data.shards().classes_per_client()));
  }
  // The model registry checks the architecture and its options.
  absl::StatusOr<ModelSpec> spec = BuildModelSpec(ModelOptionsOf(c.model()));
  if (!spec.ok()) {
    return FailNamingOption(check, "model", "architecture", spec.status());
  } else if (spec->task != dataset->task) {
    return check.Fail("model.architecture",
                      absl::StrCat("'", c.model().architecture(), "' is for ",
                                   MetricOf(spec->task).task_name, " and data.dataset '",
                                   c.data().dataset(), "' is for ",
                                   MetricOf(dataset->task).task_name));
  }
  const auto& t = c.train();
  if (!(t.learning_rate() > 0) || !std::isfinite(t.learning_rate())) {
    return check.Fail("train.learning_rate", absl::StrCat("must be > 0, got ", t.learning_rate()));
  }
  if (t.batch_size() < 1) {
    return check.Fail("train.batch_size", absl::StrCat("must be >= 1, got ", t.batch_size()));
  }
  if (t.local_epochs() < 1) {
    return check.Fail("train.local_epochs", absl::StrCat("must be >= 1, got ", t.local_epochs()));
  }
  if (!(t.momentum() >= 0 && t.momentum() < 1)) {
    return check.Fail("train.momentum", absl::StrCat("must be in [0, 1), got ", t.momentum()));
  }
  if (!(t.weight_decay() >= 0) || !std::isfinite(t.weight_decay())) {
    return check.Fail("train.weight_decay", absl::StrCat("must be >= 0, got ", t.weight_decay()));
  }
  // The algorithm registry checks the name, its options and that the model can run it.
  absl::StatusOr<std::unique_ptr<ClientAlgorithm>> algorithm =
      CreateClientAlgorithm(c.algorithm().name(), *spec, AlgorithmOptionsOf(c.algorithm()));
  if (!algorithm.ok()) return FailNamingOption(check, "algorithm", "name", algorithm.status());
  if (PrivacyEnabled(c) && !(*algorithm)->federated()) {
    return check.Fail("privacy.clip_norm", absl::StrCat("algorithm '", c.algorithm().name(),
                                                       "' shares nothing to protect"));
  }
  if (!(c.train().proximal_mu() >= 0) || !std::isfinite(c.train().proximal_mu())) {
    return check.Fail("train.proximal_mu",
                      absl::StrCat("must be finite and >= 0, got ", c.train().proximal_mu()));
  }
  if (c.algorithm().name() == "fedprox" && c.train().proximal_mu() == 0) {
    return check.Fail("train.proximal_mu", "fedprox needs mu > 0 (with 0 it is fedavg)");
  }
  // The codec module is the one judge of its options; each is checked alone to name the field.
  UpdateCodecOptions codec;
  codec.name = c.upload().codec();
  if (absl::Status s = ValidateUpdateCodec(codec); !s.ok()) {
    return check.Fail("upload.codec", std::string(s.message()));
  }
  codec = UpdateCodecOptions();
  codec.topk_fraction = c.upload().topk_fraction();
  if (absl::Status s = ValidateUpdateCodec(codec); !s.ok()) {
    return check.Fail("upload.topk_fraction", std::string(s.message()));
  }
  const auto& s = c.server();
  if (s.clients_per_round() < 0 || s.clients_per_round() > data.num_clients()) {
    return check.Fail("server.clients_per_round",
                      absl::StrCat("must be in [0, data.num_clients=", data.num_clients(),
                                   "], got ", s.clients_per_round()));
  }
  if (s.has_trim_fraction() && !(s.trim_fraction() >= 0 && s.trim_fraction() < 0.5)) {
    return check.Fail("server.trim_fraction",
                      absl::StrCat("must be in [0, 0.5), got ", s.trim_fraction()));
  }
  if (!(s.norm_bound() >= 0) || !std::isfinite(s.norm_bound())) {
    return check.Fail("server.norm_bound",
                      absl::StrCat("must be finite and >= 0, got ", s.norm_bound()));
  }
  if (s.norm_bound() > 0 && s.aggregator() != "weighted_mean") {
    return check.Fail("server.norm_bound",
                      absl::StrCat("applies to weighted_mean, not to ", s.aggregator()));
  }
  if (!OneOf(s.aggregator(), {"weighted_mean", "median", "trimmed_mean", "krum", "multi_krum"})) {
    return check.Fail("server.aggregator",
                      absl::StrCat("unknown aggregator '", s.aggregator(),
                                   "' (known: weighted_mean, median, trimmed_mean, krum, "
                                   "multi_krum)"));
  }
  if (!(s.server_learning_rate() > 0) || !std::isfinite(s.server_learning_rate())) {
    return check.Fail("server.server_learning_rate",
                      absl::StrCat("must be > 0, got ", s.server_learning_rate()));
  }
  const int cohort = s.clients_per_round() == 0 ? data.num_clients() : s.clients_per_round();
  if (s.min_updates() < 0 || s.min_updates() > cohort) {
    return check.Fail("server.min_updates", absl::StrCat("must be in [0, cohort size=", cohort,
                                                         "], got ", s.min_updates()));
  }
  if (s.aggregation_buffer_mb() < 0 || s.aggregation_buffer_mb() > (int64_t{1} << 30)) {
    return check.Fail("server.aggregation_buffer_mb",
                      absl::StrCat("must be in [0, 2^30], got ", s.aggregation_buffer_mb()));
  }
  if (!OneOf(s.short_round(), {"retry", "skip"})) {
    return check.Fail("server.short_round",
                      absl::StrCat("must be \"retry\" or \"skip\", got \"", s.short_round(), "\""));
  }
  if (s.keep_models() < 0) {
    return check.Fail("server.keep_models",
                      absl::StrCat("must be >= 0 (0: keep every round's), got ", s.keep_models()));
  }
  if (s.max_round_attempts() < 0) {
    return check.Fail("server.max_round_attempts",
                      absl::StrCat("must be >= 0 (0: unlimited), got ", s.max_round_attempts()));
  }
  TAILOR_RETURN_IF_ERROR(ValidateServerOptimizer(s, check));
  TAILOR_RETURN_IF_ERROR(ValidateKrum(s, s.min_updates() > 0 ? s.min_updates() : cohort, check));
  if (c.eval().every_rounds() < 1) {
    return check.Fail("eval.every_rounds",
                      absl::StrCat("must be >= 1, got ", c.eval().every_rounds()));
  }
  if (c.eval().new_clients() < 0 || c.eval().new_clients() >= c.data().num_clients()) {
    return check.Fail("eval.new_clients",
                      absl::StrCat("must be in [0, data.num_clients = ", c.data().num_clients(),
                                   "), got ", c.eval().new_clients()));
  }
  if (c.eval().new_client_epochs() < 1) {
    return check.Fail("eval.new_client_epochs",
                      absl::StrCat("must be >= 1, got ", c.eval().new_client_epochs()));
  }
  if (c.eval().new_client_shots_size() > 0) {
    if (c.eval().new_clients() == 0) {
      return check.Fail("eval.new_client_shots", "needs eval.new_clients > 0 (the curves are "
                                                 "the new clients')");
    }
    const std::vector<int> shots(c.eval().new_client_shots().begin(),
                                 c.eval().new_client_shots().end());
    if (absl::Status s = CheckFewShotPoints(shots); !s.ok()) {
      return check.Fail("eval.new_client_shots", std::string(s.message()));
    }
  }
  const auto& attack = c.simulation().attack();
  if (!(attack.byzantine_fraction() >= 0 && attack.byzantine_fraction() < 0.5)) {
    return check.Fail("simulation.attack.byzantine_fraction",
                      absl::StrCat("must be in [0, 0.5), got ", attack.byzantine_fraction()));
  }
  if (!OneOf(attack.kind(), {"sign_flip", "gaussian"})) {
    return check.Fail("simulation.attack.kind", absl::StrCat("unknown attack '", attack.kind(),
                                                             "' (known: sign_flip, gaussian)"));
  }
  if (!(attack.scale() > 0) || !std::isfinite(attack.scale())) {
    return check.Fail("simulation.attack.scale",
                      absl::StrCat("must be finite and > 0, got ", attack.scale()));
  }
  TAILOR_RETURN_IF_ERROR(ValidatePrivacy(c, check));
  TAILOR_RETURN_IF_ERROR(ValidateSecureAggregation(c, check));
  if (c.simulation().workers() < 0) {
    return check.Fail("simulation.workers",
                      absl::StrCat("must be >= 0, got ", c.simulation().workers()));
  }
  if (c.simulation().intra_op_threads() < 0) {
    return check.Fail("simulation.intra_op_threads",
                      absl::StrCat("must be >= 0, got ", c.simulation().intra_op_threads()));
  }
  return absl::OkStatus();
}

// True when `path` names a string field (so a bare value on a command line gets quoted).
bool IsStringField(const std::vector<std::string>& parts) {
  const Descriptor* desc = ExperimentConfig::descriptor();
  const FieldDescriptor* field = nullptr;
  for (const std::string& part : parts) {
    if (desc == nullptr) return false;
    field = desc->FindFieldByName(part);
    if (field == nullptr) return false;
    desc = field->message_type();
  }
  return field != nullptr && field->type() == FieldDescriptor::TYPE_STRING;
}

// "a.b.c" + "v" -> "a { b { c: v } }" (a string value is quoted unless it already is).
std::string OverrideToText(const ConfigOverride& o) {
  std::vector<std::string> parts = absl::StrSplit(o.path, '.');
  std::string value = o.value;
  if (IsStringField(parts) && (value.empty() || value.front() != '"')) {
    value = absl::StrCat("\"", absl::CEscape(value), "\"");
  }
  std::string text;
  for (size_t i = 0; i + 1 < parts.size(); ++i) absl::StrAppend(&text, parts[i], " { ");
  absl::StrAppend(&text, parts.back(), ": ", value);
  for (size_t i = 0; i + 1 < parts.size(); ++i) absl::StrAppend(&text, " }");
  return text;
}

std::string StemOf(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace

bool PrivacyEnabled(const config::ExperimentConfig& config) {
  const auto& p = config.privacy();
  return p.clip_norm() > 0 || p.noise_multiplier() > 0 || p.target_epsilon() > 0;
}

absl::StatusOr<ConfigOverride> ParseOverride(const std::string& flag) {
  size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("override '", flag, "' is not of the form field.path=value"));
  }
  return ConfigOverride{flag.substr(0, eq), flag.substr(eq + 1)};
}

namespace {

// Text format lets "\xff" escapes put any bytes into a string field; a config's strings (names,
// paths, algorithm names) must be text. INVALID_ARGUMENT naming the field.
absl::Status CheckStringsAreUtf8(const google::protobuf::Message& message, const std::string& path) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    const std::string name = path.empty() ? field->name() : path + "." + field->name();
    const int n = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < n; ++i) {
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        const std::string value = field->is_repeated()
                                      ? reflection->GetRepeatedString(message, field, i)
                                      : reflection->GetString(message, field);
        if (!IsValidUtf8(value)) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": not valid UTF-8 text"));
        }
      } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        TAILOR_RETURN_IF_ERROR(CheckStringsAreUtf8(
            field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                                 : reflection->GetMessage(message, field),
            name));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExperimentConfig> ParseExperimentConfig(
    const std::string& text, const std::string& source_name,
    const std::vector<ConfigOverride>& overrides) {
  ExperimentConfig config;
  TextFormat::ParseInfoTree tree;
  {
    CollectFirstError errors;
    TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &config)) {
      return absl::InvalidArgumentError(errors.has_error() ? errors.Format(source_name)
                                                           : source_name + ": parse error");
    }
  }
  for (const auto& o : overrides) {
    CollectFirstError errors;
    TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    if (!parser.MergeFromString(OverrideToText(o), &config)) {
      return absl::InvalidArgumentError(
          absl::StrCat("override ", o.path, "=", o.value, " is invalid: ", errors.Format("flag")));
    }
  }
  TAILOR_RETURN_IF_ERROR(CheckStringsAreUtf8(config, ""));
  if (config.name().empty()) config.set_name(StemOf(source_name));
  ApplyDefaults(&config);
  TAILOR_RETURN_IF_ERROR(Validate(config, Checker(source_name, &tree)));
  return config;
}

absl::StatusOr<ExperimentConfig> LoadExperimentConfig(
    const std::string& path, Env* env, const std::vector<ConfigOverride>& overrides) {
  absl::StatusOr<std::string> text = env->ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("cannot read config: ", text.status().message()));
  }
  return ParseExperimentConfig(*text, path, overrides);
}

AlgorithmOptions AlgorithmOptionsOf(const config::AlgorithmConfig& a) {
  AlgorithmOptions o;
  o.personal_patterns.assign(a.personal_patterns().begin(), a.personal_patterns().end());
  o.head_epochs = a.head_epochs();
  o.finetune_epochs = a.finetune_epochs();
  o.ditto_lambda = a.ditto_lambda();
  o.personal_epochs = a.personal_epochs();
  o.apfl_alpha = a.apfl_alpha();
  o.ala_learning_rate = a.ala_learning_rate();
  o.ala_data_fraction = a.ala_data_fraction();
  o.ala_layers = a.ala_layers();
  o.fedbn_recalibrate = a.fedbn_recalibrate();
  return o;
}

ModelOptions ModelOptionsOf(const config::ModelConfig& model) {
  ModelOptions o;
  o.architecture = model.architecture();
  o.transformer.layers = model.transformer().layers();
  o.transformer.d_model = model.transformer().d_model();
  o.transformer.heads = model.transformer().heads();
  o.transformer.context = model.transformer().context();
  o.transformer.mlp_ratio = model.transformer().mlp_ratio();
  o.lora.rank = model.lora().rank();
  o.lora.alpha = model.lora().alpha();
  o.lora.targets.assign(model.lora().targets().begin(), model.lora().targets().end());
  o.lora.personal_rank = model.lora().personal_rank();
  o.reward.head = model.reward().head();
  o.reward.prototypes = model.reward().prototypes();
  o.reward.user_dim = model.reward().user_dim();
  o.reward.pool = model.reward().pool();
  o.reward.beta = model.reward().beta();
  return o;
}

}  // namespace tailor
