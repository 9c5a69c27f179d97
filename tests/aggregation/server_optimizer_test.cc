// Server optimizers against the formulas of Reddi et al. (2021) written out independently, state
// round-trips (a restored optimizer continues exactly), and refusal of bad settings and input.
#include "aggregation/server_optimizer.h"

#include <cmath>

#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {3, 4}}, {"b", {4}}};

// The reference: one scalar parameter's trajectory under the paper's update rules.
struct Reference {
  std::string rule;
  double lr, momentum, beta1, beta2, tau;
  // Stored in float32 between rounds, as the implementation stores its state.
  float m_stored = 0, v_stored = -1;
  double Step(double x, double d) {
    double m = m_stored;
    double v = v_stored < 0 ? static_cast<double>(static_cast<float>(tau * tau)) : v_stored;
    double next;
    if (rule == "sgd") {
      next = x + lr * d;
    } else if (rule == "fedavgm") {
      m = momentum * m + d;
      next = x + lr * m;
    } else {
      m = beta1 * m + (1 - beta1) * d;
      if (rule == "fedadagrad") v = v + d * d;
      if (rule == "fedadam") v = beta2 * v + (1 - beta2) * d * d;
      if (rule == "fedyogi") {
        const double s = (v - d * d) > 0 ? 1 : ((v - d * d) < 0 ? -1 : 0);
        v = v - (1 - beta2) * d * d * s;
      }
      next = x + lr * m / (std::sqrt(v) + tau);
    }
    m_stored = static_cast<float>(m);
    v_stored = static_cast<float>(v);
    return next;
  }
};

ServerOptimizerOptions Options(const std::string& name) {
  ServerOptimizerOptions o;
  o.name = name;
  o.learning_rate = 0.3;
  o.momentum = 0.8;
  o.beta1 = 0.7;
  o.beta2 = 0.9;
  o.tau = 0.01;
  return o;
}

const char* const kRules[] = {"sgd", "fedavgm", "fedadagrad", "fedadam", "fedyogi"};

TEST(ServerOptimizer, EveryRuleFollowsThePapersFormulasOverSeveralRounds) {
  for (const char* rule : kRules) {
    const ServerOptimizerOptions o = Options(rule);
    auto opt = *CreateServerOptimizer(o);
    ParameterSet model = RandomSet(kSpec, 1, 1.0);
    std::vector<std::vector<Reference>> ref;
    std::vector<std::vector<double>> x;
    for (const auto& e : model.entries()) {
      ref.emplace_back(e.tensor.numel(),
                       Reference{rule, o.learning_rate, o.momentum, o.beta1, o.beta2, o.tau});
      x.emplace_back(e.tensor.f32().begin(), e.tensor.f32().end());
    }
    for (int round = 0; round < 6; ++round) {
      const ParameterSet delta = RandomSet(kSpec, 100 + round, 0.1);
      double change2 = 0;
      for (size_t t = 0; t < model.size(); ++t) {
        for (size_t i = 0; i < x[t].size(); ++i) {
          // The implementation stores float32 between rounds; so does the reference.
          const double before = x[t][i];
          x[t][i] = static_cast<float>(ref[t][i].Step(before, delta.entry(t).tensor.f32()[i]));
          change2 += (x[t][i] - before) * (x[t][i] - before);
        }
      }
      auto norm = opt->Step(&model, delta);
      ASSERT_OK(norm);
      EXPECT_NEAR(*norm, std::sqrt(change2), 1e-6) << rule;
      for (size_t t = 0; t < model.size(); ++t) {
        for (size_t i = 0; i < x[t].size(); ++i) {
          ASSERT_EQ(model.entry(t).tensor.f32()[i], static_cast<float>(x[t][i]))
              << rule << " round " << round << " tensor " << t << " element " << i;
        }
      }
    }
    EXPECT_EQ(opt->State().empty(), std::string(rule) == "sgd") << rule;
  }
}

TEST(ServerOptimizer, RestoredStateContinuesExactlyAsAnUninterruptedRun) {
  for (const char* rule : kRules) {
    auto straight = *CreateServerOptimizer(Options(rule));
    auto first = *CreateServerOptimizer(Options(rule));
    ParameterSet a = RandomSet(kSpec, 2, 1.0);
    ParameterSet b = a;
    for (int round = 0; round < 3; ++round) {
      const ParameterSet d = RandomSet(kSpec, 200 + round, 0.1);
      ASSERT_OK(straight->Step(&a, d));
      ASSERT_OK(first->Step(&b, d));
    }
    auto resumed = *CreateServerOptimizer(Options(rule));
    ASSERT_OK(resumed->Restore(first->State(), b));
    for (int round = 3; round < 6; ++round) {
      const ParameterSet d = RandomSet(kSpec, 200 + round, 0.1);
      ASSERT_OK(straight->Step(&a, d));
      ASSERT_OK(resumed->Step(&b, d));
    }
    EXPECT_TRUE(a == b) << rule;
  }
}

TEST(ServerOptimizer, RefusesAStateOfAnotherOptimizerOrModel) {
  auto adam = *CreateServerOptimizer(Options("fedadam"));
  ParameterSet model = RandomSet(kSpec, 3, 1.0);
  ASSERT_OK(adam->Step(&model, RandomSet(kSpec, 4, 0.1)));
  auto avgm = *CreateServerOptimizer(Options("fedavgm"));
  EXPECT_STATUS(avgm->Restore(adam->State(), model), absl::StatusCode::kInvalidArgument,
                "fedavgm state");
  auto other = *CreateServerOptimizer(Options("fedadam"));
  EXPECT_STATUS(other->Restore(adam->State(), RandomSet({{"w", {3, 4}}}, 5, 1.0)),
                absl::StatusCode::kInvalidArgument, "server optimizer state");
  // A stateful optimizer cannot resume from a checkpoint written without state.
  EXPECT_STATUS(other->Restore(ParameterSet(), model), absl::StatusCode::kInvalidArgument,
                "fedadam state");
}

TEST(ServerOptimizer, ADivergingStepIsRefusedWithModelAndStateUntouched) {
  auto adagrad = *CreateServerOptimizer(Options("fedadagrad"));
  ParameterSet model = RandomSet(kSpec, 6, 1.0);
  ASSERT_OK(adagrad->Step(&model, RandomSet(kSpec, 7, 0.1)));
  const ParameterSet model_before = model;
  const ParameterSet state_before = adagrad->State();
  ParameterSet huge = RandomSet(kSpec, 8, 0.1);
  huge.entry(1).tensor.f32()[2] = 3e38f;  // squares to infinity in float32 state
  EXPECT_STATUS(adagrad->Step(&model, huge), absl::StatusCode::kInvalidArgument, "non-finite");
  EXPECT_TRUE(model == model_before);
  EXPECT_TRUE(adagrad->State() == state_before);
  EXPECT_STATUS(adagrad->Step(&model, RandomSet({{"w", {3, 4}}}, 9, 0.1)),
                absl::StatusCode::kInvalidArgument, "");
  EXPECT_TRUE(model == model_before);
}

TEST(ServerOptimizer, BadSettingsAreRefusedByName) {
  auto expect_bad = [](ServerOptimizerOptions o, const std::string& what) {
    EXPECT_STATUS(CreateServerOptimizer(o).status(), absl::StatusCode::kInvalidArgument, what);
  };
  ServerOptimizerOptions o = Options("fedadam");
  o.name = "adamw";
  expect_bad(o, "unknown server optimizer 'adamw'");
  o = Options("sgd");
  o.learning_rate = 0;
  expect_bad(o, "learning rate");
  o = Options("fedavgm");
  o.momentum = 1;
  expect_bad(o, "momentum");
  o = Options("fedyogi");
  o.beta1 = -0.1;
  expect_bad(o, "beta1");
  o = Options("fedadam");
  o.beta2 = 1;
  expect_bad(o, "beta2");
  o = Options("fedadagrad");
  o.tau = 0;
  expect_bad(o, "tau");
  o.tau = NAN;
  expect_bad(o, "tau");
}

}  // namespace
}  // namespace tailor
