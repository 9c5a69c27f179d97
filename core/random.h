// Deterministic, platform-independent pseudo-randomness for experiments (partitions, cohort
// selection, shuffling, initialization). The standard library's distributions are
// implementation-defined, so Tailor implements its own on top of xoshiro256**: the same seed
// gives the same numbers with any compiler or standard library.
//
// Not for privacy noise: DP noise comes from a cryptographically secure generator (privacy/).
#ifndef TAILOR_CORE_RANDOM_H_
#define TAILOR_CORE_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <initializer_list>
#include <vector>

namespace tailor {

// Mixes a base seed with stream tags (e.g. {kShuffleStream, round, client}) into an
// independent seed. Pure function.
uint64_t DeriveSeed(uint64_t base, std::initializer_list<uint64_t> tags);

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();
  // Uniform integer in [0, n); n > 0. Unbiased (Lemire's method).
  uint64_t UniformInt(uint64_t n);
  // Standard normal (Marsaglia polar method).
  double Normal();
  // Gamma(shape, 1), shape > 0 (Marsaglia–Tsang; shape < 1 via the U^(1/shape) boost).
  double Gamma(double shape);
  // A Dirichlet(alpha, ..., alpha) draw of dimension k.
  std::vector<double> SymmetricDirichlet(double alpha, int k);

  // Fisher–Yates shuffle.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) {
      size_t j = static_cast<size_t>(UniformInt(i));
      std::swap((*v)[i - 1], (*v)[j]);
    }
  }

 private:
  uint64_t s_[4];
  bool has_spare_normal_ = false;
  double spare_normal_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_CORE_RANDOM_H_
