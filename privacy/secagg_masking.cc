#include "privacy/secagg_masking.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

uint64_t ModulusMask(const SecAggField& f) {
  return f.bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << f.bits) - 1;
}

// The self mask uses stream 1 and pairwise masks stream 0 of their (different) keys; fixed so
// every party expands the same words.
constexpr uint64_t kPairStream = 0;
constexpr uint64_t kSelfStream = 1;

// Adds (or subtracts) words [first, first + values.size()) of the mask stream to `values`;
// `first` a multiple of 8. A tile of mask at a time: it stays in cache between being made and
// being added.
void AddMask(const Key32& key, uint64_t stream, bool subtract, const SecAggField& field,
             absl::Span<uint64_t> values, uint64_t first = 0) {
  uint64_t mask[kMaskTileWords];
  const uint64_t m = ModulusMask(field);
  for (size_t at = 0; at < values.size(); at += kMaskTileWords) {
    const size_t n = std::min(kMaskTileWords, values.size() - at);
    ExpandMaskRange(key, stream, field.bits, first + at, absl::MakeSpan(mask, n));
    uint64_t* v = values.data() + at;
    if (subtract) {
      for (size_t i = 0; i < n; ++i) v[i] = (v[i] - mask[i]) & m;
    } else {
      for (size_t i = 0; i < n; ++i) v[i] = (v[i] + mask[i]) & m;
    }
  }
}

}  // namespace

absl::StatusOr<SecAggField> ChooseSecAggField(int64_t max_clients, double clip_norm, double grid) {
  if (max_clients < 1 || !(clip_norm > 0) || !(grid > 0) || !std::isfinite(clip_norm) ||
      !std::isfinite(grid)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation needs clients >= 1, a clip norm > 0 and a grid > 0, got ",
        max_clients, ", ", clip_norm, " and ", grid));
  }
  const double bound = static_cast<double>(max_clients) * (clip_norm / grid + 1);
  const int bits = static_cast<int>(std::ceil(std::log2(bound + 1))) + 1;
  if (bits > 62) {
    return absl::InvalidArgumentError(absl::StrCat(
        max_clients, " clients' updates of norm ", clip_norm, " on a grid of ", grid,
        " need ", bits, " bits and could wrap a 62-bit sum: use a coarser grid, a smaller clip "
        "norm or fewer clients"));
  }
  return SecAggField{bits, grid};
}

absl::StatusOr<std::vector<uint64_t>> EncodeOnGrid(absl::Span<const float> values,
                                                   const SecAggField& field, double clip_norm) {
  const double limit = clip_norm / field.grid + 1;
  const uint64_t m = ModulusMask(field);
  std::vector<uint64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double steps = std::nearbyint(static_cast<double>(values[i]) / field.grid);
    if (!std::isfinite(steps) || std::abs(steps) > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "coordinate ", i, " (", values[i], ") is not finite or beyond the clip norm ",
          clip_norm, " the field was sized for"));
    }
    out[i] = static_cast<uint64_t>(static_cast<int64_t>(steps)) & m;
  }
  return out;
}

std::vector<double> DecodeSum(absl::Span<const uint64_t> sum, const SecAggField& field) {
  std::vector<double> out(sum.size());
  const uint64_t half = uint64_t{1} << (field.bits - 1);
  for (size_t i = 0; i < sum.size(); ++i) {
    // Residues of half or more are negative.
    const int64_t signed_steps = sum[i] >= half
                                     ? static_cast<int64_t>(sum[i]) - static_cast<int64_t>(2 * half)
                                     : static_cast<int64_t>(sum[i]);
    out[i] = static_cast<double>(signed_steps) * field.grid;
  }
  return out;
}

void AddMasks(int64_t me, const Key32& self_seed, absl::Span<const PeerKey> peers,
              const SecAggField& field, absl::Span<uint64_t> input) {
  AddMask(self_seed, kSelfStream, /*subtract=*/false, field, input);
  for (const PeerKey& p : peers) {
    AddMask(p.key, kPairStream, /*subtract=*/p.peer < me, field, input);
  }
}

void AddModulo(absl::Span<const uint64_t> input, const SecAggField& field,
               absl::Span<uint64_t> sum) {
  const uint64_t m = ModulusMask(field);
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = (sum[i] + input[i]) & m;
}

void RemoveMasks(absl::Span<const Key32> survivor_self_seeds,
                 absl::Span<const DroppedPairMask> dropped, const SecAggField& field,
                 absl::Span<uint64_t> sum) {
  // Every mask is removed from every word, so the words split into ranges that the cores take
  // independently (each word is still changed by one thread, in the same order: the result does
  // not depend on the split). Ranges start on whole tiles, which are whole ChaCha20 blocks.
  auto remove = [&](size_t begin, size_t end) {
    absl::Span<uint64_t> part = sum.subspan(begin, end - begin);
    for (const Key32& seed : survivor_self_seeds) {
      AddMask(seed, kSelfStream, /*subtract=*/true, field, part, begin);
    }
    // A survivor added +PRG for a higher-id peer and -PRG for a lower one: undo exactly that.
    for (const DroppedPairMask& d : dropped) {
      AddMask(d.key, kPairStream, /*subtract=*/d.dropped > d.survivor, field, part, begin);
    }
  };
  const size_t tiles = (sum.size() + kMaskTileWords - 1) / kMaskTileWords;
  const size_t threads = std::max<size_t>(
      1, std::min<size_t>({std::thread::hardware_concurrency(), tiles / 16, 64}));
  std::vector<std::thread> workers;
  size_t begin = 0;
  for (size_t t = 0; t < threads; ++t) {
    const size_t end = std::min(sum.size(), (tiles * (t + 1) / threads) * kMaskTileWords);
    if (t + 1 == threads) {
      remove(begin, sum.size());
    } else {
      workers.emplace_back(remove, begin, end);
    }
    begin = end;
  }
  for (std::thread& w : workers) w.join();
}

}  // namespace tailor
