// The reward model's forward program (models/reward_spec.h declares its tensors): the byte
// transformer's body, the hidden state at each sequence's first end-of-text token, and the
// reward head. Training code only: pulls in LibTorch.
#ifndef TAILOR_MODELS_TORCH_REWARD_H_
#define TAILOR_MODELS_TORCH_REWARD_H_

#include <string>
#include <vector>

#include "models/torch_transformer.h"

namespace tailor {

class RewardProgram : public ForwardProgram {
 public:
  explicit RewardProgram(const TorchModel& m);
  // [B, T] token ids, each row holding an end-of-text token (padding after it is never read:
  // attention is causal) → [B] rewards.
  at::Tensor Forward(const at::Tensor& ids) override;

  // A text growing one token at a time, read as Forward reads it (the same numbers), from one
  // key/value cache: reward-guided decoding scores k next bytes with about 2k positions
  // instead of k whole texts.
  struct Stream {
    TransformerProgram::Cache cache;  // the tokens so far, at most context - 1 of them
    at::Tensor hidden_sum;            // [d] their final hidden states summed (mean pooling)
    int64_t positions = 0;            // positions evaluated (the stream's compute)
    // The last ScoreNext's rows: appending one of their bytes reuses its keys, values and
    // hidden state instead of reading the byte again.
    std::vector<int64_t> scored_bytes;  // per row, its byte (-1: an end-token row)
    TransformerProgram::Cache scored;   // [rows, heads, length + n, head_dim]
    at::Tensor scored_hidden;           // [rows, n, d]
  };
  // Starts a stream at `prefix` ([1, n] ids: BOS, and the prompt with its closing BOS when there
  // is one); a prefix longer than context - 1 is cut as Forward's callers cut a row.
  void Start(const at::Tensor& prefix, Stream* stream);
  // Appends a byte; once the stream holds context - 1 tokens further bytes are cut (the reward
  // of a longer text reads its first context - 1 tokens and an EOS).
  void Append(int64_t byte, Stream* stream);
  // [k] rewards of the stream's text followed by each token (a byte; any other token: the text
  // as it stands, read at an EOS right after it).
  at::Tensor ScoreNext(Stream* stream, const std::vector<int64_t>& tokens);

 private:
  // [B, d] pooled states → [B] rewards.
  at::Tensor Head(const at::Tensor& pooled) const;
  // Rewards of `rows` ([k, n] ids) read after the stream's cache, each at its end token's
  // position `read_at` ([k], < n).
  at::Tensor ScoreAfter(Stream* stream, const at::Tensor& rows, const at::Tensor& read_at);

  TransformerProgram body_;
  std::string head_;
  bool mean_pool_;
  at::Tensor w_, directions_, mix_, user_, user_proj_;
};

// DPO's implicit reward (models/reward_spec.h, "byte_dpo"): beta times the candidate's
// log-likelihood under the model with its adapters minus under the base without them. Still a
// TransformerProgram, so the tuned model generates.
class DpoProgram : public TransformerProgram {
 public:
  explicit DpoProgram(const TorchModel& m);
  // [B, T] rows as the preference batcher builds them (BOS, [prompt, BOS,] candidate, EOS,
  // padding) → [B] rewards; the candidate's tokens through its EOS are scored, the prompt
  // conditions them and is not scored.
  at::Tensor Forward(const at::Tensor& ids) override;

 private:
  // Per row, the summed log-probability of the candidate's tokens under the program as it is.
  at::Tensor CandidateLogLikelihood(const at::Tensor& ids, const at::Tensor& scored);
  double beta_;
};

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_REWARD_H_
