// A bit-exact re-implementation of the parts of NumPy's legacy `np.random` (RandomState over
// MT19937) that PFLlib's dataset generators use: seed, shuffle, permutation, dirichlet.
// With it Tailor reproduces PFLlib's client partitions exactly, so accuracy comparisons with
// PFLlib are made on the same clients, not merely the same recipe.
#ifndef TAILOR_DATA_NUMPY_LEGACY_RANDOM_H_
#define TAILOR_DATA_NUMPY_LEGACY_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tailor {

class NumpyLegacyRandom {
 public:
  // np.random.seed(seed) for an integer seed.
  explicit NumpyLegacyRandom(uint32_t seed);

  uint32_t NextU32();
  // legacy_double: 53-bit uniform in [0, 1) from two 32-bit draws.
  double Double();
  double StandardExponential();
  // legacy_gauss (polar method, caches the second value).
  double Gauss();
  // legacy_standard_gamma.
  double StandardGamma(double shape);
  // RandomState.dirichlet(alpha) for one draw.
  std::vector<double> Dirichlet(const std::vector<double>& alpha);
  // RandomState.shuffle on a 1-d array.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i-- > 1;) {
      const size_t j = static_cast<size_t>(Interval(i));
      std::swap((*v)[i], (*v)[j]);
    }
  }
  // RandomState.permutation(n).
  std::vector<uint32_t> Permutation(uint32_t n);

 private:
  // random_interval: uniform in [0, max] by masked rejection.
  uint64_t Interval(uint64_t max);
  void Refill();

  uint32_t key_[624];
  int pos_ = 624;
  bool has_gauss_ = false;
  double gauss_ = 0;
};

// NumPy's pairwise summation (np.sum on a contiguous float64 array), which differs from a
// left-to-right sum in the last bits.
double NumpyPairwiseSum(const double* a, size_t n);

}  // namespace tailor

#endif  // TAILOR_DATA_NUMPY_LEGACY_RANDOM_H_
