// Test helper for tests/privacy/{rdp,pld}_crosscheck.py: the accountants' numbers for one
// (q, z) as one JSON line, without the tailor binary's LibTorch start-up cost.
//   accountant_dump Q Z ROUNDS,ROUNDS,... DELTA,DELTA,...
// prints {"orders":[...],"rdp":[...],"epsilon":[[rounds,delta,epsilon],...]} at full precision;
//   accountant_dump pld Q Z STEPS EPSILON,EPSILON,...
// prints {"remove":[delta,...],"add":[delta,...]}, the PLD accountant's δ(ε) per direction.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "privacy/pld_accountant.h"
#include "privacy/rdp_accountant.h"

namespace {

int DumpPld(char** argv) {
  double q = 0, z = 0;
  int64_t steps = 0;
  if (!absl::SimpleAtod(argv[2], &q) || !absl::SimpleAtod(argv[3], &z) ||
      !absl::SimpleAtoi(argv[4], &steps)) {
    return 2;
  }
  std::printf("{");
  for (auto [name, direction] : {std::pair<const char*, tailor::PldDirection>{
                                     "remove", tailor::PldDirection::kRemove},
                                 {"add", tailor::PldDirection::kAdd}}) {
    std::printf("%s\"%s\":[", direction == tailor::PldDirection::kAdd ? "," : "", name);
    bool first = true;
    for (absl::string_view e : absl::StrSplit(argv[5], ',')) {
      double epsilon = 0;
      if (!absl::SimpleAtod(e, &epsilon)) return 2;
      auto delta = tailor::PldDelta(q, z, steps, epsilon, direction);
      if (!delta.ok()) {
        std::fprintf(stderr, "%s\n", delta.status().ToString().c_str());
        return 1;
      }
      std::printf("%s%.17g", first ? "" : ",", *delta);
      first = false;
    }
    std::printf("]");
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "pld") return DumpPld(argv);
  double q = 0, z = 0;
  if (argc != 5 || !absl::SimpleAtod(argv[1], &q) || !absl::SimpleAtod(argv[2], &z)) {
    std::fprintf(stderr, "usage: %s Q Z ROUNDS,... DELTA,...\n", argv[0]);
    return 2;
  }
  const std::vector<double>& orders = tailor::DefaultRdpOrders();
  auto curve = tailor::SubsampledGaussianRdpCurve(q, z, orders);
  if (!curve.ok()) {
    std::fprintf(stderr, "%s\n", curve.status().ToString().c_str());
    return 1;
  }
  std::printf("{\"orders\":[");
  for (size_t i = 0; i < orders.size(); ++i) std::printf("%s%.17g", i ? "," : "", orders[i]);
  std::printf("],\"rdp\":[");
  for (size_t i = 0; i < curve->size(); ++i) std::printf("%s%.17g", i ? "," : "", (*curve)[i]);
  std::printf("],\"epsilon\":[");
  bool first = true;
  for (absl::string_view r : absl::StrSplit(argv[3], ',')) {
    for (absl::string_view d : absl::StrSplit(argv[4], ',')) {
      int64_t rounds = 0;
      double delta = 0;
      if (!absl::SimpleAtoi(r, &rounds) || !absl::SimpleAtod(d, &delta)) return 2;
      auto spent = tailor::SubsampledGaussianEpsilon(q, z, rounds, delta);
      if (!spent.ok()) {
        std::fprintf(stderr, "%s\n", spent.status().ToString().c_str());
        return 1;
      }
      std::printf("%s[%lld,%.17g,%.17g]", first ? "" : ",", static_cast<long long>(rounds), delta,
                  spent->epsilon);
      first = false;
    }
  }
  std::printf("]}\n");
  return 0;
}
