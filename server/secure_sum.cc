#include "server/secure_sum.h"

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "privacy/secagg_wire.h"

namespace tailor {
namespace {

// The replies of one exchange; the transport may answer from any thread.
class PhaseCollector : public SecAggSink {
 public:
  explicit PhaseCollector(size_t expected) : expected_(expected) {}

  void OnSecAggReply(int64_t client_id, std::string reply) override {
    absl::MutexLock lock(&mu_);
    // After the deadline a reply is a dropout's: the phase has moved on without it.
    if (!closed_ && answered_.insert(client_id).second) replies_[client_id] = std::move(reply);
  }
  void OnSecAggFailure(int64_t client_id, const absl::Status& why) override {
    absl::MutexLock lock(&mu_);
    if (!closed_ && answered_.insert(client_id).second) {
      LogEvent(LogLevel::kWarn, "secagg_client_failed",
               {{"client", absl::StrCat(client_id)}, {"msg", std::string(why.message())}});
    }
  }
  // The replies that arrived by `deadline` (later ones are ignored).
  std::map<int64_t, std::string> AwaitUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(
                              +[](PhaseCollector* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
                                return c->answered_.size() >= c->expected_;
                              },
                              this),
                          deadline);
    closed_ = true;
    return std::move(replies_);
  }

 private:
  const size_t expected_;
  absl::Mutex mu_;
  std::set<int64_t> answered_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::string> replies_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Sends `requests` and returns the parsed replies of this round that name their sender;
// a reply that does not parse or names another round or client is that client's dropout.
std::map<int64_t, v1::SecAggReply> Exchange(const std::map<int64_t, v1::SecAggRequest>& requests,
                                            const SecureSumOptions& options, SecureSumStats* stats) {
  std::map<int64_t, std::string> wire;
  for (const auto& [id, request] : requests) {
    wire[id] = request.SerializeAsString();
    stats->bytes_to_clients += static_cast<int64_t>(wire[id].size());
  }
  auto collector = std::make_shared<PhaseCollector>(wire.size());
  options.transport->DispatchSecAgg(options.config.round, wire, collector);
  std::map<int64_t, v1::SecAggReply> out;
  for (auto& [id, bytes] : collector->AwaitUntil(options.env->Now() + options.phase_timeout)) {
    stats->bytes_from_clients += static_cast<int64_t>(bytes.size());
    absl::StatusOr<v1::SecAggReply> reply = ParseSecAgg<v1::SecAggReply>(bytes, "reply");
    if (!reply.ok() || reply->round() != options.config.round || reply->client_id() != id) {
      LogEvent(LogLevel::kWarn, "secagg_reply_refused",
               {{"client", absl::StrCat(id)},
                {"msg", reply.ok() ? "another round or client" : std::string(reply.status().message())}});
      continue;
    }
    out.emplace(id, *std::move(reply));
  }
  return out;
}

}  // namespace

absl::StatusOr<SecureSum> RunSecureSum(const std::map<int64_t, std::string>& advertisements,
                                       const SecureSumOptions& options, SecureSumStats* stats) {
  *stats = SecureSumStats();
  SecAggServer server(options.config);
  std::vector<KeyAdvertisement> ads;
  for (const auto& [id, bytes] : advertisements) {
    absl::StatusOr<v1::SecAggAdvertisement> msg =
        ParseSecAgg<v1::SecAggAdvertisement>(bytes, "advertisement");
    absl::StatusOr<KeyAdvertisement> ad = msg.ok() ? FromProto(*msg) : msg.status();
    if (!ad.ok() || ad->client != id) continue;  // a dropout before advertising
    ads.push_back(*ad);
  }
  TAILOR_ASSIGN_OR_RETURN(std::vector<KeyAdvertisement> roster, server.CollectAdvertisements(ads));
  stats->advertised = static_cast<int64_t>(roster.size());

  // 1. Share keys: every advertiser gets the roster.
  std::map<int64_t, v1::SecAggRequest> requests;
  for (const KeyAdvertisement& ad : roster) {
    v1::SecAggRequest& r = requests[ad.client];
    r.set_round(options.config.round);
    for (const KeyAdvertisement& each : roster) *r.mutable_roster()->add_advertisements() = ToProto(each);
  }
  std::vector<SealedShares> sealed;
  for (const auto& [id, reply] : Exchange(requests, options, stats)) {
    if (!reply.has_shares()) continue;
    for (const v1::SecAggSealedShares& s : reply.shares().shares()) {
      if (s.from_client() == id) sealed.push_back(FromProto(s));  // a client speaks for itself
    }
  }
  TAILOR_ASSIGN_OR_RETURN(auto inboxes, server.RouteShares(sealed));

  // 2. Masked input: every client that shared gets the shares addressed to it.
  requests.clear();
  for (int64_t id : server.sharers()) {
    auto inbox = inboxes.find(id);
    v1::SecAggRequest& r = requests[id];
    r.set_round(options.config.round);
    r.mutable_inbox();
    if (inbox != inboxes.end()) {
      for (const SealedShares& s : inbox->second) *r.mutable_inbox()->add_shares() = ToProto(s);
    }
  }
  std::vector<MaskedInput> inputs;
  for (auto& [id, reply] : Exchange(requests, options, stats)) {
    if (!reply.has_masked_input()) continue;
    absl::StatusOr<std::vector<uint64_t>> words = UnpackWords(reply.masked_input(), options.config.length,
                                                               options.config.field.bits);
    if (!words.ok()) continue;
    inputs.push_back(MaskedInput{id, *std::move(words)});
  }
  absl::StatusOr<UnmaskRequest> unmask = server.CollectMaskedInputs(inputs);
  if (!unmask.ok()) return unmask.status();
  stats->shared = static_cast<int64_t>(unmask->survivors.size() + unmask->dropped.size());
  stats->masked_inputs = static_cast<int64_t>(unmask->survivors.size());
  stats->recovered_dropouts = static_cast<int64_t>(unmask->dropped.size());

  // 3. Unmasking: every survivor gets the lists.
  requests.clear();
  for (int64_t id : unmask->survivors) {
    v1::SecAggRequest& r = requests[id];
    r.set_round(options.config.round);
    for (int64_t s : unmask->survivors) r.mutable_unmask()->add_survivors(s);
    for (int64_t d : unmask->dropped) r.mutable_unmask()->add_dropped(d);
  }
  std::vector<UnmaskResponse> responses;
  for (const auto& [id, reply] : Exchange(requests, options, stats)) {
    if (!reply.has_unmask()) continue;
    absl::StatusOr<UnmaskResponse> r = FromProto(id, reply.unmask());
    if (r.ok()) responses.push_back(*std::move(r));
  }
  stats->helpers = static_cast<int64_t>(responses.size());
  SecureSum out;
  TAILOR_ASSIGN_OR_RETURN(out.words, server.Unmask(responses));
  out.survivors = unmask->survivors;
  return out;
}

}  // namespace tailor
