#include "core/serialization.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

constexpr char kMagic[4] = {'T', 'L', 'P', 'S'};
constexpr uint32_t kVersion = 1;
constexpr size_t kDigestBytes = 32;
constexpr size_t kPreambleBytes = 12;  // magic, version, count

template <typename T>
void Put(std::string* out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));  // Tailor targets little-endian hosts only.
  out->append(buf, sizeof(T));
}

template <typename T>
T Get(const std::string& bytes, size_t at = 0) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

// Appends the preamble and every tensor header to *headers; header_ends[i] is where tensor i's
// header ends (its payload follows it in the serialized bytes).
void BuildHeaders(const ParameterSet& set, std::string* headers, std::vector<size_t>* header_ends) {
  headers->append(kMagic, 4);
  Put<uint32_t>(headers, kVersion);
  Put<uint32_t>(headers, static_cast<uint32_t>(set.size()));
  for (const auto& e : set.entries()) {
    Put<uint32_t>(headers, static_cast<uint32_t>(e.name.size()));
    headers->append(e.name);
    Put<uint8_t>(headers, static_cast<uint8_t>(e.tensor.dtype()));
    Put<uint8_t>(headers, static_cast<uint8_t>(e.tensor.shape().size()));
    for (int64_t d : e.tensor.shape()) Put<int64_t>(headers, d);
    Put<uint64_t>(headers, e.tensor.byte_size());
    header_ends->push_back(headers->size());
  }
}

absl::string_view PayloadOf(const Tensor& t) {
  return absl::string_view(reinterpret_cast<const char*>(t.data()), t.byte_size());
}

}  // namespace

SerializedParameterSet::SerializedParameterSet(std::shared_ptr<const ParameterSet> set)
    : set_(std::move(set)) {
  std::vector<size_t> header_ends;
  BuildHeaders(*set_, &headers_, &header_ends);
  // Pieces are built only now: headers_ no longer moves.
  size_t header_start = 0;
  Sha256Hasher hasher;
  auto add = [&](absl::string_view piece) {
    if (piece.empty()) return;
    piece_starts_.push_back(size_);
    pieces_.push_back(piece);
    size_ += piece.size();
  };
  for (size_t i = 0; i < set_->size(); ++i) {
    add(absl::string_view(headers_).substr(header_start, header_ends[i] - header_start));
    add(PayloadOf(set_->entry(i).tensor));
    header_start = header_ends[i];
  }
  if (set_->empty()) add(headers_);
  for (absl::string_view p : pieces_) hasher.Update(p);
  digest_ = hasher.Finish();
  add(absl::string_view(reinterpret_cast<const char*>(digest_.data()), digest_.size()));
  content_address_ = ToHex(digest_);
}

SerializedParameterSet::SerializedParameterSet(const ParameterSet& borrowed)
    : SerializedParameterSet(
          std::shared_ptr<const ParameterSet>(&borrowed, [](const ParameterSet*) {})) {}

void SerializedParameterSet::AppendRange(uint64_t offset, size_t n, std::string* out) const {
  // The piece holding `offset`: the last one starting at or before it.
  size_t i = static_cast<size_t>(
      std::upper_bound(piece_starts_.begin(), piece_starts_.end(), offset) - piece_starts_.begin() -
      1);
  while (n > 0 && i < pieces_.size()) {
    const uint64_t within = offset - piece_starts_[i];
    const size_t take = std::min<uint64_t>(n, pieces_[i].size() - within);
    out->append(pieces_[i].data() + within, take);
    offset += take;
    n -= take;
    ++i;
  }
}

std::string SerializeParameterSet(const ParameterSet& set) {
  const SerializedParameterSet view(set);
  std::string out;
  out.reserve(view.size());
  for (absl::string_view p : view.pieces()) out.append(p.data(), p.size());
  return out;
}

std::string ContentAddressOf(absl::string_view serialized) {
  Sha256Digest digest;
  if (serialized.size() < kDigestBytes) return "";
  std::memcpy(digest.data(), serialized.data() + serialized.size() - kDigestBytes, kDigestBytes);
  return ToHex(digest);
}

absl::StatusOr<ParameterSet> DeserializeParameterSet(absl::string_view bytes,
                                                     const DecodeLimits& limits) {
  ParameterSetDecoder decoder(bytes.size(), limits);
  absl::Status s = decoder.Append(bytes);
  if (!s.ok()) return s;
  return decoder.Finish();
}

// ----- ParameterSetDecoder -----

ParameterSetDecoder::ParameterSetDecoder(uint64_t max_bytes, DecodeLimits limits)
    : max_bytes_(max_bytes), limits_(limits) {}

void ParameterSetDecoder::Expect(Field field, size_t bytes) {
  field_ = field;
  need_ = bytes;
  scratch_.clear();
}

std::string ParameterSetDecoder::Where() const {
  switch (field_) {
    case Field::kHeader:
      return "the header";
    case Field::kNameLength:
      return absl::StrCat("tensor #", index_, " name length");
    case Field::kName:
      return absl::StrCat("tensor #", index_, " name");
    case Field::kDtypeRank:
      return absl::StrCat("tensor '", name_, "' header");
    case Field::kDims:
      return absl::StrCat("tensor '", name_, "' shape");
    case Field::kPayloadSize:
      return absl::StrCat("tensor '", name_, "' payload size");
    case Field::kPayload:
      return absl::StrCat("tensor '", name_, "' payload");
    case Field::kDigest:
      return "the checksum";
    case Field::kDone:
      break;
  }
  return "past the end";
}

absl::Status ParameterSetDecoder::Truncated() const {
  return absl::DataLossError(absl::StrCat("parameter set truncated: input ends at byte ",
                                          consumed_, " while reading ", Where()));
}

absl::Status ParameterSetDecoder::Append(absl::string_view bytes) {
  while (error_.ok() && !bytes.empty()) {
    if (field_ == Field::kDone) {
      error_ = absl::InvalidArgumentError(absl::StrCat(
          "parameter set has ", bytes.size(), " unexpected bytes after its checksum"));
      break;
    }
    error_ = Consume(&bytes);
  }
  return error_;
}

absl::Status ParameterSetDecoder::Consume(absl::string_view* bytes) {
  const size_t take = std::min(need_, bytes->size());
  const absl::string_view piece = bytes->substr(0, take);
  bytes->remove_prefix(take);
  if (field_ != Field::kDigest) hasher_.Update(piece);
  consumed_ += take;
  need_ -= take;
  if (field_ == Field::kPayload) {
    std::memcpy(tensor_.data() + payload_pos_, piece.data(), take);
    payload_pos_ += take;
  } else {
    scratch_.append(piece.data(), piece.size());
    // The magic is checked as soon as it is there, so that a stranger's bytes fail fast.
    if (field_ == Field::kHeader && scratch_.size() >= 4 && std::memcmp(scratch_.data(), kMagic, 4)) {
      return absl::InvalidArgumentError("not a Tailor parameter set (bad magic bytes)");
    }
  }
  return need_ == 0 ? FieldComplete() : absl::OkStatus();
}

absl::Status ParameterSetDecoder::FieldComplete() {
  // The most bytes that can still follow what has been consumed.
  const uint64_t room = max_bytes_ - std::min(max_bytes_, consumed_);
  switch (field_) {
    case Field::kHeader: {
      const uint32_t version = Get<uint32_t>(scratch_, 4);
      count_ = Get<uint32_t>(scratch_, 8);
      if (version != kVersion) {
        return absl::InvalidArgumentError(absl::StrCat("unsupported parameter set version ",
                                                       version, " (this build reads ", kVersion,
                                                       ")"));
      }
      if (count_ > limits_.max_tensors) {
        return absl::InvalidArgumentError(absl::StrCat("parameter set declares ", count_,
                                                       " tensors, limit is ", limits_.max_tensors));
      }
      break;
    }
    case Field::kNameLength: {
      const uint32_t len = Get<uint32_t>(scratch_);
      if (len == 0 || len > limits_.max_name_bytes) {
        return absl::InvalidArgumentError(absl::StrCat("tensor #", index_, " has name length ", len,
                                                       " (allowed 1..", limits_.max_name_bytes,
                                                       ")"));
      }
      Expect(Field::kName, len);
      return absl::OkStatus();
    }
    case Field::kName:
      name_ = scratch_;
      Expect(Field::kDtypeRank, 2);
      return absl::OkStatus();
    case Field::kDtypeRank: {
      dtype_ = static_cast<uint8_t>(scratch_[0]);
      const uint8_t rank = static_cast<uint8_t>(scratch_[1]);
      if (!IsKnownDType(dtype_)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", name_, "' has unknown dtype code ",
                                                       static_cast<int>(dtype_)));
      }
      if (rank > limits_.max_rank) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", name_, "' has rank ",
                                                       static_cast<int>(rank), ", limit is ",
                                                       static_cast<int>(limits_.max_rank)));
      }
      shape_.assign(rank, 0);
      Expect(rank == 0 ? Field::kPayloadSize : Field::kDims, rank == 0 ? 8 : 8 * rank);
      return absl::OkStatus();
    }
    case Field::kDims:
      std::memcpy(shape_.data(), scratch_.data(), scratch_.size());
      Expect(Field::kPayloadSize, 8);
      return absl::OkStatus();
    case Field::kPayloadSize: {
      const std::string label = absl::StrCat("tensor '", name_, "'");
      const int64_t numel = NumElements(shape_);
      if (numel < 0) return absl::InvalidArgumentError(label + " has an invalid shape");
      const uint64_t payload = Get<uint64_t>(scratch_);
      const size_t elem = DTypeSize(static_cast<DType>(dtype_));
      if (static_cast<uint64_t>(numel) > UINT64_MAX / elem || payload != numel * elem) {
        return absl::InvalidArgumentError(absl::StrCat(label, " declares ", payload,
                                                       " payload bytes for ", numel, " elements"));
      }
      // Refuse before allocating: the payload and the checksum must still fit.
      if (payload > room || room - payload < kDigestBytes) {
        return absl::DataLossError(absl::StrCat(
            "parameter set truncated: ", label, " declares ", payload,
            " payload bytes but the input ends at byte ", max_bytes_));
      }
      tensor_ = Tensor::Uninitialized(static_cast<DType>(dtype_), std::move(shape_));
      shape_.clear();
      payload_pos_ = 0;
      Expect(Field::kPayload, payload);
      if (payload > 0) return absl::OkStatus();
      return FieldComplete();
    }
    case Field::kPayload: {
      absl::Status added = set_.Add(name_, std::move(tensor_));
      if (!added.ok()) return absl::InvalidArgumentError(added.message());
      ++index_;
      break;
    }
    case Field::kDigest: {
      const Sha256Digest digest = hasher_.Finish();
      if (std::memcmp(digest.data(), scratch_.data(), kDigestBytes) != 0) {
        return absl::DataLossError("parameter set checksum mismatch: the bytes are corrupted");
      }
      content_address_ = ToHex(digest);
      Expect(Field::kDone, 0);
      return absl::OkStatus();
    }
    case Field::kDone:
      return absl::OkStatus();
  }
  // After the preamble or a tensor: the next tensor, or the checksum.
  if (index_ < count_) {
    Expect(Field::kNameLength, 4);
  } else {
    Expect(Field::kDigest, kDigestBytes);
  }
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> ParameterSetDecoder::Finish() {
  if (!error_.ok()) return error_;
  if (field_ != Field::kDone) {
    error_ = Truncated();
    return error_;
  }
  error_ = absl::FailedPreconditionError("decoder already finished");
  return std::move(set_);
}

}  // namespace tailor
