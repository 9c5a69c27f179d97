#include "core/serialization.h"

#include <cmath>
#include <cstring>

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

TEST(SerializedView, PiecesAndEveryRangeEqualTheSerializedBytes) {
  const std::string bytes = SerializeParameterSet(Sample());
  SerializedParameterSet view(std::make_shared<const ParameterSet>(Sample()));
  ASSERT_EQ(view.size(), bytes.size());
  EXPECT_EQ(view.content_address(), ContentAddressOf(bytes));
  std::string joined;
  for (absl::string_view p : view.pieces()) joined.append(p.data(), p.size());
  EXPECT_EQ(joined, bytes);
  // Every (offset, length) window, including ones spanning header/payload boundaries.
  for (size_t off = 0; off <= bytes.size(); off += 3) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{64}, bytes.size()}) {
      const size_t len = std::min(n, bytes.size() - off);
      std::string got = "x";
      view.AppendRange(off, len, &got);
      ASSERT_EQ(got, "x" + bytes.substr(off, len)) << off << "+" << len;
    }
  }
  SerializedParameterSet empty(std::make_shared<const ParameterSet>());
  EXPECT_EQ(std::string(empty.pieces()[0]) + std::string(empty.pieces()[1]),
            SerializeParameterSet(ParameterSet()));
}

TEST(StreamDecoder, AnyChunkingDecodesTheSameSet) {
  const ParameterSet in = Sample();
  const std::string bytes = SerializeParameterSet(in);
  for (size_t chunk : {size_t{1}, size_t{5}, size_t{13}, size_t{100}, bytes.size()}) {
    ParameterSetDecoder decoder(bytes.size());
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      ASSERT_OK(decoder.Append(absl::string_view(bytes).substr(off, chunk)));
      EXPECT_EQ(decoder.bytes_consumed(), std::min(bytes.size(), off + chunk));
    }
    auto out = decoder.Finish();
    ASSERT_OK(out);
    EXPECT_TRUE(*out == in) << "chunk " << chunk;
    EXPECT_EQ(decoder.content_address(), ContentAddressOf(bytes));
  }
}

TEST(StreamDecoder, EndingEarlyNamesTheFieldAndErrorsAreSticky) {
  const std::string bytes = SerializeParameterSet(Sample());
  ParameterSetDecoder decoder(bytes.size());
  ASSERT_OK(decoder.Append(absl::string_view(bytes).substr(0, 30)));
  EXPECT_STATUS(decoder.Finish(), absl::StatusCode::kDataLoss, "while reading tensor 'body.weight'");

  std::string corrupt = bytes;
  corrupt[bytes.size() - 32 - 3] ^= 4;  // inside the last payload (the float64 scalar)
  ParameterSetDecoder bad(bytes.size());
  ASSERT_OK(bad.Append(absl::string_view(corrupt).substr(0, 100)));
  EXPECT_STATUS(bad.Append(absl::string_view(corrupt).substr(100)), absl::StatusCode::kDataLoss,
                "checksum");
  EXPECT_STATUS(bad.Append("more"), absl::StatusCode::kDataLoss, "checksum");
  EXPECT_STATUS(bad.Finish(), absl::StatusCode::kDataLoss, "checksum");
}

TEST(StreamDecoder, DeclaredTensorLargerThanTheStreamIsRefusedBeforeAllocating) {
  // A header claiming a 2^40-element tensor in a stream announced as 200 bytes: refused at
  // the header, without trying to allocate 4 TiB.
  ParameterSet huge_header;
  ASSERT_OK(huge_header.Add("w", Tensor(DType::kFloat32, {2})));
  std::string bytes = SerializeParameterSet(huge_header);
  const int64_t dim = int64_t{1} << 40;
  std::memcpy(&bytes[12 + 4 + 1 + 2], &dim, 8);        // dims[0]
  const uint64_t payload = static_cast<uint64_t>(dim) * 4;
  std::memcpy(&bytes[12 + 4 + 1 + 2 + 8], &payload, 8);  // payload size
  ParameterSetDecoder decoder(200);
  EXPECT_STATUS(decoder.Append(bytes), absl::StatusCode::kDataLoss, "declares 4398046511104");
}

TEST(StreamDecoder, BytesAfterTheChecksumAreRefused) {
  const std::string bytes = SerializeParameterSet(Sample());
  ParameterSetDecoder decoder(bytes.size() + 10);
  EXPECT_STATUS(decoder.Append(bytes + "tail"), absl::StatusCode::kInvalidArgument,
                "after its checksum");
}

TEST(PolicySplit, MovesEachTensorToItsSideInOrder) {
  const ParameterSet full = Sample();
  PersonalizationPolicy policy({"head.*", "scale"});
  PersonalizationPolicy::Parts parts = policy.Split(full);
  EXPECT_TRUE(parts.shared == policy.Shared(full));
  EXPECT_TRUE(parts.personal == policy.Personal(full));
}

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
