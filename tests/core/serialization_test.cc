#include "core/serialization.h"

#include <cmath>

#include "core/personalization_policy.h"
#include "core/wire_update.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

ParameterSet Sample() {
  ParameterSet s = RandomSet({{"body.weight", {4, 3}}, {"body.bias", {4}}, {"head.weight", {2, 4}}}, 7);
  Tensor steps(DType::kInt64, {1});
  EXPECT_OK(s.Add("bn.num_batches_tracked", std::move(steps)));
  Tensor scalar(DType::kFloat64, {});
  scalar.f64()[0] = 3.25;
  EXPECT_OK(s.Add("scale", std::move(scalar)));
  return s;
}

TEST(Serialization, RoundTripPreservesNamesOrderDtypesShapesAndBits) {
  ParameterSet in = Sample();
  auto out = DeserializeParameterSet(SerializeParameterSet(in));
  ASSERT_OK(out);
  EXPECT_EQ(out->names(), in.names());
  EXPECT_TRUE(*out == in);
  EXPECT_EQ(out->Find("scale")->f64()[0], 3.25);
}

TEST(Serialization, EmptySetRoundTrips) {
  auto out = DeserializeParameterSet(SerializeParameterSet(ParameterSet()));
  ASSERT_OK(out);
  EXPECT_TRUE(out->empty());
}

TEST(Serialization, EveryTruncationIsRefusedAsDataLossOrBadMagic) {
  const std::string bytes = SerializeParameterSet(Sample());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto out = DeserializeParameterSet(bytes.substr(0, len));
    ASSERT_FALSE(out.ok()) << "accepted a prefix of " << len << " bytes";
    if (len >= 4) {
      EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss) << len << ": " << out.status();
    }
  }
}

TEST(Serialization, TruncatedMessageNamesWhatWasBeingRead) {
  const std::string bytes = SerializeParameterSet(Sample());
  EXPECT_STATUS(DeserializeParameterSet(bytes.substr(0, bytes.size() - 40)),
                absl::StatusCode::kDataLoss, "truncated");
}

TEST(Serialization, AnyFlippedPayloadByteFailsTheChecksum) {
  const std::string bytes = SerializeParameterSet(Sample());
  // Flip one bit in every payload/name byte position past the header; none may be accepted.
  for (size_t pos = 12; pos < bytes.size(); ++pos) {
    std::string bad = bytes;
    bad[pos] ^= 0x10;
    auto out = DeserializeParameterSet(bad);
    EXPECT_FALSE(out.ok()) << "corruption at byte " << pos << " went unnoticed";
  }
  std::string bad = bytes;
  bad[bytes.size() - 50] ^= 1;  // inside the last tensor's payload
  EXPECT_STATUS(DeserializeParameterSet(bad), absl::StatusCode::kDataLoss, "checksum");
}

TEST(Serialization, BadMagicAndVersionAreInvalidArgument) {
  std::string bytes = SerializeParameterSet(Sample());
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_STATUS(DeserializeParameterSet(bad_magic), absl::StatusCode::kInvalidArgument, "magic");
  std::string bad_version = bytes;
  bad_version[4] = 9;
  EXPECT_STATUS(DeserializeParameterSet(bad_version), absl::StatusCode::kInvalidArgument,
                "version 9");
}

TEST(Serialization, TrailingGarbageIsRefused) {
  std::string bytes = SerializeParameterSet(Sample());
  bytes.insert(bytes.size() - 32, "xyz");
  EXPECT_FALSE(DeserializeParameterSet(bytes).ok());
}

TEST(Serialization, HugeDeclaredCountIsRefusedWithoutAllocating) {
  std::string bytes = SerializeParameterSet(Sample());
  bytes[8] = bytes[9] = bytes[10] = bytes[11] = '\xff';
  EXPECT_STATUS(DeserializeParameterSet(bytes), absl::StatusCode::kInvalidArgument, "declares");
}

// --- The wire layer: personal parameters never leave; uploads are validated. ---

TEST(WireUpdate, PersonalTensorIsNeverEncoded) {
  ParameterSet full = Sample();
  PersonalizationPolicy policy({"head.*"});
  EXPECT_STATUS(EncodeSharedUpdate(full, policy), absl::StatusCode::kFailedPrecondition,
                "personal tensor 'head.weight'");
  auto bytes = EncodeSharedUpdate(policy.Shared(full), policy);
  ASSERT_OK(bytes);
  auto decoded = DeserializeParameterSet(*bytes);
  ASSERT_OK(decoded);
  for (const auto& name : decoded->names()) EXPECT_FALSE(policy.IsPersonal(name)) << name;
  // And the raw bytes do not even contain the personal name.
  EXPECT_EQ(bytes->find("head.weight"), std::string::npos);
}

TEST(WireUpdate, DecodeChecksSchemaAndFiniteness) {
  ParameterSet schema = RandomSet({{"a", {2, 2}}, {"b", {3}}}, 1);
  PersonalizationPolicy none;
  auto ok = DecodeSharedUpdate(*EncodeSharedUpdate(schema, none), schema);
  EXPECT_OK(ok);

  ParameterSet wrong_name = RandomSet({{"a", {2, 2}}, {"c", {3}}}, 1);
  EXPECT_STATUS(DecodeSharedUpdate(*EncodeSharedUpdate(wrong_name, none), schema),
                absl::StatusCode::kInvalidArgument, "unknown tensor 'c'");

  ParameterSet wrong_shape = RandomSet({{"a", {2, 3}}, {"b", {3}}}, 1);
  EXPECT_STATUS(DecodeSharedUpdate(*EncodeSharedUpdate(wrong_shape, none), schema),
                absl::StatusCode::kInvalidArgument, "'a' is float32[2,3], expected float32[2,2]");

  ParameterSet missing = RandomSet({{"a", {2, 2}}}, 1);
  EXPECT_STATUS(DecodeSharedUpdate(*EncodeSharedUpdate(missing, none), schema),
                absl::StatusCode::kInvalidArgument, "missing tensor 'b'");

  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    ParameterSet poisoned = schema;
    poisoned.FindMutable("b")->f32()[1] = bad;
    EXPECT_STATUS(DecodeSharedUpdate(*EncodeSharedUpdate(poisoned, none), schema),
                  absl::StatusCode::kInvalidArgument, "tensor 'b': non-finite");
  }
}

}  // namespace
}  // namespace tailor
