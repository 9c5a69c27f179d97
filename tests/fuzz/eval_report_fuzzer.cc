// Evaluation reports as a client could send them: impossible numbers are refused, and whatever
// the collector accepts summarizes to accuracies in [0, 1] and finite losses.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>

#include "server/evaluation.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  FuzzedDataProvider in(data, size);
  EvalCollector collector({0, 1, 2});
  while (in.remaining_bytes() > 0) {
    EvalReport report;
    report.client_id = in.ConsumeIntegralInRange<int64_t>(-1, 4);
    report.personalized.correct = in.ConsumeIntegral<int64_t>();
    report.personalized.count = in.ConsumeIntegral<int64_t>();
    report.personalized.loss_sum = in.ConsumeFloatingPoint<double>();
    if (in.ConsumeBool()) {
      report.global = EvalStats{in.ConsumeIntegral<int64_t>(), in.ConsumeIntegral<int64_t>(),
                                in.ConsumeFloatingPoint<double>()};
    }
    const absl::Status checked = CheckEvalReport(report);
    if (checked.ok()) {
      FUZZ_CHECK(report.personalized.count >= 0 &&
                 report.personalized.count <= kMaxEvalSamplesPerClient);
      FUZZ_CHECK(report.personalized.correct >= 0 &&
                 report.personalized.correct <= report.personalized.count);
      FUZZ_CHECK(std::isfinite(report.personalized.loss_sum) && report.personalized.loss_sum >= 0);
    }
    const absl::Status accepted = collector.OnEvalReport(report);
    FUZZ_CHECK(!accepted.ok() || checked.ok());
    if (in.ConsumeBool())
      collector.OnEvalFailure(in.ConsumeIntegralInRange<int64_t>(0, 3),
                              absl::UnavailableError("gone"));
  }
  const EvalSummary s = collector.WaitUntil(absl::InfinitePast());
  FUZZ_CHECK(s.micro >= 0 && s.micro <= 1);
  FUZZ_CHECK(s.test_samples >= 0 && s.test_samples <= 3 * kMaxEvalSamplesPerClient);
  return 0;
}
