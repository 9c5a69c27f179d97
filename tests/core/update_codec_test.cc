// Update codecs: the 16-bit conversions against their definitions (every value, ties to even),
// int8's unbiasedness (a statistical test a biased quantizer cannot pass), top-k's selection and
// error feedback (nothing is lost, only delayed), bytes on the wire, and every malformed
// encoding refused by name.
#include "core/update_codec.h"

#include <cmath>
#include <cstring>

#include "core/serialization.h"
#include "core/status_macros.h"
#include "core/wire_update.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {40, 70}},
                                                                         {"b", {7}}};

UpdateCodecOptions Codec(const std::string& name, double fraction = 0.01) {
  UpdateCodecOptions o;
  o.name = name;
  o.topk_fraction = fraction;
  return o;
}

TEST(HalfFloat, EveryFiniteHalfRoundTripsAndMidpointsRoundToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    if ((half & 0x7c00) == 0x7c00) continue;  // inf / NaN
    const float f = HalfToFloat(half);
    ASSERT_EQ(FloatToHalf(f), half) << std::hex << h;
    const uint16_t up = static_cast<uint16_t>(half + 1);
    if ((half & 0x7fff) == 0x7bff) continue;  // the largest finite: no finite neighbour above
    const float mid = 0.5f * (f + HalfToFloat(up));  // exact in float32
    ASSERT_EQ(FloatToHalf(mid), (half & 1) ? up : half) << std::hex << h;
  }
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
}

TEST(BFloat16, EveryFiniteValueRoundTripsAndMidpointsRoundToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bf = static_cast<uint16_t>(h);
    if ((bf & 0x7f80) == 0x7f80) continue;
    const float f = BFloat16ToFloat(bf);
    ASSERT_EQ(FloatToBFloat16(f), bf) << std::hex << h;
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits |= 0x8000;  // exactly halfway to the next bfloat16
    float mid;
    std::memcpy(&mid, &bits, 4);
    const uint16_t want = (bf & 1) ? static_cast<uint16_t>(bf + 1) : bf;
    if ((want & 0x7f80) == 0x7f80) continue;
    ASSERT_EQ(FloatToBFloat16(mid), want) << std::hex << h;
  }
}

absl::StatusOr<ParameterSet> RoundTrip(const ParameterSet& u, const UpdateCodecOptions& o,
                                       uint64_t seed, ParameterSet* residual = nullptr,
                                       size_t* bytes = nullptr) {
  TAILOR_ASSIGN_OR_RETURN(ParameterSet wire, CompressUpdate(u, o, seed, residual));
  TAILOR_ASSIGN_OR_RETURN(std::string encoded, EncodeSharedUpdate(wire, PersonalizationPolicy()));
  if (bytes) *bytes = encoded.size();
  return DecodeSharedUpdate(encoded, u);
}

TEST(UpdateCodec, SixteenBitCodecsKeepTheirPrecisionAndHalveTheBytes) {
  const ParameterSet u = RandomSet(kSpec, 3, 0.05);
  size_t dense = 0, half = 0, brain = 0;
  ASSERT_OK(RoundTrip(u, Codec("none"), 1, nullptr, &dense));
  auto fp16 = RoundTrip(u, Codec("fp16"), 1, nullptr, &half);
  auto bf16 = RoundTrip(u, Codec("bf16"), 1, nullptr, &brain);
  ASSERT_OK(fp16);
  ASSERT_OK(bf16);
  for (size_t t = 0; t < u.size(); ++t) {
    for (size_t i = 0; i < u.entry(t).tensor.f32().size(); ++i) {
      const float x = u.entry(t).tensor.f32()[i];
      EXPECT_NEAR(fp16->entry(t).tensor.f32()[i], x, std::fabs(x) * 0x1p-11 + 0x1p-24);
      EXPECT_NEAR(bf16->entry(t).tensor.f32()[i], x, std::fabs(x) * 0x1p-8);
    }
  }
  EXPECT_LT(half, dense * 0.52);
  EXPECT_EQ(half, brain);
  ParameterSet huge = u;
  huge.entry(1).tensor.f32()[0] = 1e6f;
  EXPECT_STATUS(CompressUpdate(huge, Codec("fp16"), 1, nullptr).status(),
                absl::StatusCode::kInvalidArgument, "beyond fp16's range");
}

TEST(UpdateCodec, Int8IsUnbiased) {
  // The mean of many independently rounded decodings converges to the input: with N draws its
  // error is below 5 standard errors (step / (2 sqrt N)) everywhere. A quantizer that always
  // rounds down or to nearest fails this by ~0.5 step on most values.
  const ParameterSet u = RandomSet({{"w", {3000}}}, 5, 0.05);
  const int draws = 2000;
  std::vector<double> mean(3000, 0.0);
  size_t dense = 0, q8 = 0;
  ASSERT_OK(RoundTrip(u, Codec("none"), 1, nullptr, &dense));
  for (int d = 0; d < draws; ++d) {
    auto got = RoundTrip(u, Codec("int8"), 1000 + d, nullptr, &q8);
    ASSERT_OK(got);
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += got->entry(0).tensor.f32()[i] / draws;
  }
  // The step of each block of 1024: (max - min) / 255.
  const auto x = u.entry(0).tensor.f32();
  for (size_t b = 0; b * 1024 < x.size(); ++b) {
    const size_t end = std::min(x.size(), (b + 1) * 1024);
    const float lo = *std::min_element(x.begin() + b * 1024, x.begin() + end);
    const float hi = *std::max_element(x.begin() + b * 1024, x.begin() + end);
    const double step = (hi - lo) / 255.0;
    for (size_t i = b * 1024; i < end; ++i) {
      ASSERT_LT(std::fabs(mean[i] - x[i]), 5 * step / (2 * std::sqrt(draws))) << i;
    }
  }
  EXPECT_LT(q8, dense * 0.27);
}

TEST(UpdateCodec, TopKSendsTheLargestAndErrorFeedbackLosesNothing) {
  const UpdateCodecOptions o = Codec("topk", 0.05);
  ParameterSet residual;
  std::vector<double> sent_total(2800 + 7, 0.0), raw_total(2800 + 7, 0.0);
  for (int round = 0; round < 6; ++round) {
    const ParameterSet u = RandomSet(kSpec, 50 + round, 0.05);
    const ParameterSet before = residual;
    size_t bytes = 0;
    auto got = RoundTrip(u, o, 7, &residual, &bytes);
    ASSERT_OK(got);
    size_t flat = 0;
    for (size_t t = 0; t < u.size(); ++t) {
      const auto x = u.entry(t).tensor.f32();
      const auto y = got->entry(t).tensor.f32();
      const size_t k = static_cast<size_t>(std::ceil(0.05 * x.size()));
      // Exactly k values sent, and none smaller in magnitude than one left behind.
      size_t nonzero = 0;
      float smallest_sent = INFINITY, largest_kept = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double carried = x[i] + (before.empty() ? 0.0 : before.entry(t).tensor.f32()[i]);
        if (y[i] != 0) {
          ++nonzero;
          smallest_sent = std::min(smallest_sent, std::fabs(y[i]));
        } else {
          largest_kept = std::max(largest_kept, static_cast<float>(std::fabs(carried)));
        }
        sent_total[flat + i] += y[i];
        raw_total[flat + i] += x[i];
      }
      EXPECT_EQ(nonzero, k) << "round " << round << " tensor " << t;
      EXPECT_GE(smallest_sent, largest_kept);
      flat += x.size();
    }
    if (round == 0) EXPECT_LT(bytes, 0.12 * 4 * 2807);  // 5% of the values, 8 bytes each
  }
  // What was sent plus what is still held equals everything the client computed.
  size_t flat = 0;
  for (size_t t = 0; t < residual.size(); ++t) {
    for (float r : residual.entry(t).tensor.f32()) {
      EXPECT_NEAR(sent_total[flat] + r, raw_total[flat], 1e-5) << flat;
      ++flat;
    }
  }
}

TEST(UpdateCodec, MalformedEncodingsAreRefusedByName) {
  const ParameterSet schema = RandomSet(kSpec, 9, 0.05);
  auto decode = [&](const ParameterSet& wire) {
    return DecodeSharedUpdate(*EncodeSharedUpdate(wire, PersonalizationPolicy()), schema);
  };
  const ParameterSet q8 = *CompressUpdate(schema, Codec("int8"), 1, nullptr);
  ParameterSet bad_scale = q8;
  bad_scale.FindMutable("w#q8.scale")->f32()[1] = -1;  // negative step
  EXPECT_STATUS(decode(bad_scale), absl::StatusCode::kInvalidArgument,
                "update tensor 'w' has int8 block 0 with invalid");
  ParameterSet nan_scale = q8;
  nan_scale.FindMutable("b#q8.scale")->f32()[0] = NAN;
  EXPECT_STATUS(decode(nan_scale), absl::StatusCode::kInvalidArgument, "update tensor 'b'");

  const ParameterSet topk = *CompressUpdate(schema, Codec("topk", 0.1), 1, nullptr);
  for (int32_t bad_index : {-1, 2800, 0}) {  // out of range, past the end, not increasing
    ParameterSet t = topk;
    int32_t* idx = reinterpret_cast<int32_t*>(t.FindMutable("w#topk.idx")->data());
    idx[bad_index == 0 ? 5 : 0] = bad_index == 0 ? idx[4] : bad_index;
    EXPECT_STATUS(decode(t), absl::StatusCode::kInvalidArgument, "has topk index");
  }
  // A value part without its indices is not an encoding: the schema check names it.
  ParameterSet orphan;
  ASSERT_OK(orphan.Add("w#topk.val", Tensor(DType::kFloat32, {5})));
  ASSERT_OK(orphan.Add("b", Tensor(DType::kFloat32, {7})));
  EXPECT_STATUS(decode(orphan), absl::StatusCode::kInvalidArgument, "unknown tensor 'w#topk.val'");
  ParameterSet short_half;
  ASSERT_OK(short_half.Add("w", Tensor(DType::kFloat16, {40, 69})));
  ASSERT_OK(short_half.Add("b", Tensor(DType::kFloat16, {7})));
  EXPECT_STATUS(decode(short_half), absl::StatusCode::kInvalidArgument,
                "'w' is float16[40,69], expected float32[40,70]");
  // A NaN smuggled in as a half is caught after expansion.
  ParameterSet nan_half = *CompressUpdate(schema, Codec("fp16"), 1, nullptr);
  reinterpret_cast<uint16_t*>(nan_half.FindMutable("b")->data())[3] = 0x7e00;
  EXPECT_STATUS(decode(nan_half), absl::StatusCode::kInvalidArgument, "non-finite");
  EXPECT_STATUS(CompressUpdate(schema, Codec("zstd"), 1, nullptr).status(),
                absl::StatusCode::kInvalidArgument, "unknown update codec 'zstd'");
  EXPECT_STATUS(CompressUpdate(schema, Codec("topk", 0), 1, nullptr).status(),
                absl::StatusCode::kInvalidArgument, "topk_fraction");
}

TEST(UpdateCodec, APersonalTensorIsRefusedInEveryEncoding) {
  PersonalizationPolicy policy({"head.weight"});
  const ParameterSet leaked = RandomSet({{"head.weight", {4, 4}}}, 1, 0.1);
  for (const char* codec : {"fp16", "int8", "topk"}) {
    SCOPED_TRACE(codec);
    const ParameterSet wire = *CompressUpdate(leaked, Codec(codec), 1, nullptr);
    EXPECT_STATUS(EncodeSharedUpdate(wire, policy), absl::StatusCode::kFailedPrecondition,
                  "personal tensor");
  }
}

}  // namespace
}  // namespace tailor
