// Secure aggregation's cost per round against plain aggregation, measured in the same run
// (issue 17, acceptance 3). For each cohort size n, mode (SecAgg: everyone is a neighbour;
// SecAgg+: k from privacy/secagg_graph.h at the row's dropout and a corrupt fraction of 0.1)
// and dropout fraction, one round of the real protocol (privacy/secagg_protocol.h, libsodium
// crypto) with P values per client, on one thread except the coordinator's unmasking
// (RemoveMasks splits the sum over the cores):
//   - client compute: the mean over clients of advertise + share keys + mask + unmask;
//   - coordinator compute: the roster, routing, the running sum and unmasking;
//   - bytes per client, both ways, as the tailor.v1 messages carry them (privacy/secagg_wire.h);
//   - the baseline, measured here: the plain weighted mean of the same n float32 updates
//     (WeightedMeanAggregator), and the plain upload of 4 P bytes (plus its small header).
// Dropouts: a third of the fraction leaves after advertising, a third after sharing keys, a
// third after the masked input. The unmasked sum is checked against the plain one exactly.
//
//   build/bench/secagg_round [P] [n1,n2,...] [dropouts] [modes]
//   build/bench/secagg_round 1048576 10,100 0,0.1,0.3 secagg,secagg_plus
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "aggregation/weighted_mean.h"
#include "core/random.h"
#include "privacy/secagg_graph.h"
#include "privacy/secagg_input.h"
#include "privacy/secagg_protocol.h"
#include "privacy/secagg_wire.h"

namespace tailor {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Row {
  double client_s = 0, coordinator_s = 0, plain_coordinator_s = 0;
  double bytes_per_client = 0, plain_bytes = 0;
  int k = 0, t = 0, summed = 0;
  bool exact = false;
  std::string note;
};

Row RunOne(int n, int64_t p, double dropout, bool plus) {
  Row row;
  SecAggRoundConfig config;
  config.round = 1;
  config.field = SecAggWeightedField();
  config.length = SecAggInputLength(p);
  if (plus) {
    absl::StatusOr<SecAggPlusParams> chosen = ChooseSecAggPlus(n, std::max(dropout, 0.01), 0.1);
    if (!chosen.ok()) {
      row.note = std::string(chosen.status().message());
      return row;
    }
    config.neighbours = chosen->neighbours >= n - 1 ? 0 : chosen->neighbours;
    config.threshold = chosen->threshold;
  } else {
    config.threshold = n / 2 + 1;  // plain SecAgg: a majority
  }
  row.k = config.neighbours == 0 ? n - 1 : config.neighbours;
  row.t = config.threshold;
  const int leave = static_cast<int>(dropout * n + 0.5);
  const int after_advertise = leave / 3, after_share = leave / 3,
            after_input = leave - 2 * (leave / 3);
  // Inputs: clipped deltas of norm ~1, weight 100.
  std::vector<ParameterSet> deltas;
  std::vector<std::unique_ptr<SecureRandom>> randoms;
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (int i = 0; i < n; ++i) {
    Tensor t(DType::kFloat32, {p});
    Rng rng(static_cast<uint64_t>(i) + 1);
    for (float& v : t.f32()) v = static_cast<float>(rng.Normal() / std::sqrt(static_cast<double>(p)));
    ParameterSet d;
    (void)d.Add("w", std::move(t));
    deltas.push_back(std::move(d));
    randoms.push_back(SecureRandom::FromSeed(9, static_cast<uint64_t>(i)));
    clients.push_back(std::make_unique<SecAggClient>(i, config, randoms.back().get()));
  }
  std::vector<double> client_s(static_cast<size_t>(n), 0);
  double to_clients = 0, from_clients = 0;
  SecAggServer server(config);
  double server_s = 0;
  auto timed = [](double* acc, auto&& f) {
    const auto t0 = Clock::now();
    auto r = f();
    *acc += Since(t0);
    return r;
  };
  std::vector<KeyAdvertisement> ads;
  for (int i = 0; i < n; ++i) {
    ads.push_back(timed(&client_s[i], [&] { return clients[i]->Advertise(); }));
    from_clients += ToProto(ads.back()).ByteSizeLong();
  }
  auto roster = *timed(&server_s, [&] { return server.CollectAdvertisements(ads); });
  v1::SecAggRoster roster_msg;
  for (const auto& ad : roster) *roster_msg.add_advertisements() = ToProto(ad);
  int alive = n - after_advertise;
  to_clients += static_cast<double>(roster_msg.ByteSizeLong()) * n;
  std::vector<SealedShares> sealed;
  for (int i = 0; i < alive; ++i) {
    auto mine = *timed(&client_s[i], [&] { return clients[i]->ShareKeys(roster); });
    for (const auto& s : mine) from_clients += ToProto(s).ByteSizeLong();
    sealed.insert(sealed.end(), mine.begin(), mine.end());
  }
  auto inbox = *timed(&server_s, [&] { return server.RouteShares(sealed); });
  for (const auto& [holder, list] : inbox) {
    for (const auto& s : list) to_clients += ToProto(s).ByteSizeLong();
  }
  alive -= after_share;
  std::vector<MaskedInput> inputs;
  WeightedMeanAggregator plain;
  (void)plain.Begin(deltas[0]);
  for (int i = 0; i < alive; ++i) {
    std::vector<uint64_t> x = *timed(&client_s[i], [&] {
      return EncodeSecAggInput(deltas[i], 100, 0.5, 10, 1000);
    });
    inputs.push_back(*timed(&client_s[i], [&] { return clients[i]->MaskInput(inbox[i], std::move(x)); }));
    from_clients += 8.0 * static_cast<double>(config.length);
    (void)timed(&row.plain_coordinator_s, [&] { return plain.Add(deltas[i], 100); });
  }
  auto request = *timed(&server_s, [&] { return server.CollectMaskedInputs(inputs); });
  alive -= after_input;
  std::vector<UnmaskResponse> responses;
  for (int i = 0; i < alive; ++i) {
    responses.push_back(*timed(&client_s[i], [&] { return clients[i]->Unmask(request); }));
    from_clients += ToProto(responses.back()).ByteSizeLong();
    to_clients += 8.0 * (request.survivors.size() + request.dropped.size()) + 4;
  }
  absl::StatusOr<std::vector<uint64_t>> sum =
      timed(&server_s, [&] { return server.Unmask(responses); });
  auto reference = *timed(&row.plain_coordinator_s, [&] { return plain.Finalize(); });
  if (!sum.ok()) {
    row.note = std::string(sum.status().message());
    return row;
  }
  ParameterSet schema = deltas[0];
  row.exact = DecodeSecAggSum(schema, *sum)->mean_delta == reference;
  row.summed = static_cast<int>(request.survivors.size());
  double total = 0;
  for (double s : client_s) total += s;
  row.client_s = total / n;
  row.coordinator_s = server_s;
  row.bytes_per_client = (to_clients + from_clients) / n;
  row.plain_bytes = static_cast<double>(4 * p + 64);  // float32 values + a TLPS header
  return row;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  using namespace tailor;
  int64_t p = 1 << 20;
  std::vector<int> sizes = {10, 100};
  std::vector<double> dropouts = {0, 0.1, 0.3};
  std::vector<std::string> modes = {"secagg", "secagg_plus"};
  if (argc > 1) (void)absl::SimpleAtoi(argv[1], &p);
  if (argc > 2) {
    sizes.clear();
    for (absl::string_view s : absl::StrSplit(argv[2], ',')) sizes.push_back(std::atoi(std::string(s).c_str()));
  }
  if (argc > 3) {
    dropouts.clear();
    for (absl::string_view s : absl::StrSplit(argv[3], ',')) dropouts.push_back(std::atof(std::string(s).c_str()));
  }
  if (argc > 4) modes = absl::StrSplit(argv[4], ',');
  std::printf("P = %lld values per client; one thread, unmasking on every core\n",
              static_cast<long long>(p));
  std::printf("%-12s %5s %7s %5s %5s %7s %10s %10s %10s %10s %9s %6s\n", "mode", "n", "dropout",
              "k", "t", "summed", "client s", "coord s", "plain s", "coord/pl", "bytes x", "exact");
  for (int n : sizes) {
    for (const std::string& mode : modes) {
      for (double d : dropouts) {
        Row r = RunOne(n, p, d, mode == "secagg_plus");
        if (!r.note.empty()) {
          std::printf("%-12s %5d %7.2f  %s\n", mode.c_str(), n, d, r.note.c_str());
          continue;
        }
        std::printf("%-12s %5d %7.2f %5d %5d %7d %10.3f %10.3f %10.4f %10.1f %9.3f %6s\n",
                    mode.c_str(), n, d, r.k, r.t, r.summed, r.client_s, r.coordinator_s,
                    r.plain_coordinator_s, r.coordinator_s / r.plain_coordinator_s,
                    r.bytes_per_client / r.plain_bytes, r.exact ? "yes" : "NO");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
