// Best-of-N's bookkeeping (sim/aligned_selection.h): which candidate each rule picks, the true
// utility it earns against chance and the oracle, and the variety guard.
#include "sim/aligned_selection.h"

#include "gtest/gtest.h"

namespace tailor {
namespace {

TEST(AlignedSelection, PicksTheHighestScoreOfEachGroupAndTheFirstOfATie) {
  EXPECT_EQ(PickBest({1, 3, 2, 5, 5, 0}, 3), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(PickBest({1, 2, 3, 4, 5}, 2), (std::vector<size_t>{1, 3}));  // a partial group: none
}

TEST(AlignedSelection, JudgesEachRulesPickByTheTrueUtility) {
  // Two groups of 3. The user's model agrees with the truth; the global one picks the worst.
  const std::vector<double> utility = {0, 1, 2, 4, 1, 1};
  const std::vector<double> personal = {0, 1, 2, 9, 0, 0};
  const std::vector<double> global = {9, 0, 0, 0, 0, 9};
  const UserSelection u = JudgeSelection(utility, personal, global, 3);
  EXPECT_DOUBLE_EQ(u.personal, 3);          // (2 + 4) / 2
  EXPECT_DOUBLE_EQ(u.global, 0.5);          // (0 + 1) / 2
  EXPECT_DOUBLE_EQ(u.best, 3);
  EXPECT_DOUBLE_EQ(u.random, 1.5);          // (1 + 2) / 2
  EXPECT_DOUBLE_EQ(u.normalized_gain(), 1);
  EXPECT_DOUBLE_EQ(u.global_normalized_gain(), -1.0 / 1.5);  // (0.5 - 1.5) / (3 - 1.5)
  // Candidates all alike: no pick can beat chance, and the gain says 0, not NaN.
  EXPECT_DOUBLE_EQ(JudgeSelection({1, 1}, {0, 1}, {1, 0}, 2).normalized_gain(), 0);
  const SelectionSummary s = SummarizeSelections({u, JudgeSelection({1, 1}, {0, 1}, {1, 0}, 2)});
  EXPECT_EQ(s.users, 2u);
  EXPECT_DOUBLE_EQ(s.personal_beats_global, 0.5);  // a tie is not a win
  EXPECT_DOUBLE_EQ(s.personal, 2);
}

TEST(AlignedSelection, DistinctBigramsFallWhenPicksRepeat) {
  EXPECT_DOUBLE_EQ(DistinctNgrams({"a b c", "d e"}, 2), 1);
  EXPECT_DOUBLE_EQ(DistinctNgrams({"a b", "a b", "a  b\n"}, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(DistinctNgrams({"one"}, 2), 0);
}

}  // namespace
}  // namespace tailor
