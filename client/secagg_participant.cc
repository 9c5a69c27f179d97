#include "client/secagg_participant.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/wire_update.h"
#include "privacy/secagg_input.h"
#include "privacy/secagg_wire.h"

namespace tailor {

absl::Status SecAggParticipant::Begin(const TrainTask& task, std::unique_ptr<SecureRandom> random,
                                      UpdateUpload* upload) {
  if (!task.secure_aggregation) return absl::InvalidArgumentError("the task has no secure aggregation");
  const SecureAggregationTask& spec = *task.secure_aggregation;
  client_.reset();
  input_.clear();
  phase_ = Phase::kIdle;
  TAILOR_ASSIGN_OR_RETURN(ParameterSet delta, DecodeSharedUpdate(upload->payload, *task.global_shared));
  if (spec.dp_grid > 0) {
    // DP: every client counts once, in the round's grid; the coordinator adds the noise to the
    // unmasked sum (central), or each client adds its share (distributed).
    DpSumGrid grid;
    grid.grid = spec.dp_grid;
    grid.effective_clip = spec.dp_effective_clip;
    TAILOR_ASSIGN_OR_RETURN(input_, EncodeSecAggDpInput(delta, upload->within_clip_norm, grid));
    if (spec.dp_noise_sigma_squared > 0) {
      // Distributed DP: this client's share of the noise, before anything leaves the device.
      TAILOR_RETURN_IF_ERROR(AddSecAggDpNoise(delta.TotalElements(), spec.dp_noise_sigma_squared,
                                              *random, &input_));
    }
  } else {
    // The device clamps its claimed weight to what the field was sized for.
    const double weight = std::min(upload->weight, static_cast<double>(spec.max_weight));
    TAILOR_ASSIGN_OR_RETURN(input_, EncodeSecAggInput(delta, weight, upload->stats.mean_loss,
                                                      spec.clip_norm, spec.max_weight));
  }
  SecAggRoundConfig config;
  config.round = task.round;
  config.threshold = spec.threshold;
  config.neighbours = spec.neighbours;
  config.field = SecAggWeightedField();
  if (spec.dp_grid > 0 && spec.field_bits > 0) {
    // The DP round's compact field: the inputs are its residues.
    config.field = SecAggField{spec.field_bits, spec.dp_grid};
    if (spec.field_bits < 64) {
      const uint64_t mask = (uint64_t{1} << spec.field_bits) - 1;
      for (uint64_t& w : input_) w &= mask;
    }
  }
  field_bits_ = config.field.bits;
  config.length = input_.size();
  random_ = std::move(random);
  client_ = std::make_unique<SecAggClient>(id_, config, random_.get());
  round_ = task.round;
  upload->plain_bytes = static_cast<int64_t>(upload->payload.size());
  upload->payload.clear();
  upload->weight = 0;
  upload->stats = TrainStats();
  // Per-client facts the coordinator could otherwise read beside the advertisement.
  upload->within_clip_norm = false;
  upload->record_epsilon = -1;
  upload->secagg_advertisement = ToProto(client_->Advertise()).SerializeAsString();
  upload->wire_bytes = static_cast<int64_t>(upload->secagg_advertisement.size());
  phase_ = Phase::kAdvertised;
  return absl::OkStatus();
}

int SecAggParticipant::next_phase() const {
  switch (phase_) {
    case Phase::kAdvertised: return 1;
    case Phase::kShared: return 2;
    case Phase::kMasked: return 3;
    default: return 0;
  }
}

absl::StatusOr<std::string> SecAggParticipant::Handle(const std::string& bytes) {
  TAILOR_ASSIGN_OR_RETURN(v1::SecAggRequest request, ParseSecAgg<v1::SecAggRequest>(bytes, "request"));
  if (client_ == nullptr || request.round() != round_) {
    return absl::InvalidArgumentError(absl::StrCat("a secure-aggregation request for round ",
                                                   request.round(), "; this client is in round ",
                                                   round_));
  }
  v1::SecAggReply reply;
  reply.set_round(round_);
  reply.set_client_id(id_);
  auto out_of_turn = [&](const char* what) {
    return absl::FailedPreconditionError(absl::StrCat("a ", what, " request out of turn"));
  };
  switch (request.phase_case()) {
    case v1::SecAggRequest::kRoster: {
      if (phase_ != Phase::kAdvertised) return out_of_turn("roster");
      std::vector<KeyAdvertisement> roster;
      for (const v1::SecAggAdvertisement& m : request.roster().advertisements()) {
        TAILOR_ASSIGN_OR_RETURN(KeyAdvertisement ad, FromProto(m));
        roster.push_back(ad);
      }
      TAILOR_ASSIGN_OR_RETURN(std::vector<SealedShares> sealed, client_->ShareKeys(roster));
      for (const SealedShares& s : sealed) *reply.mutable_shares()->add_shares() = ToProto(s);
      phase_ = Phase::kShared;
      break;
    }
    case v1::SecAggRequest::kInbox: {
      if (phase_ != Phase::kShared) return out_of_turn("masked-input");
      std::vector<SealedShares> inbox;
      for (const v1::SecAggSealedShares& m : request.inbox().shares()) inbox.push_back(FromProto(m));
      TAILOR_ASSIGN_OR_RETURN(MaskedInput masked, client_->MaskInput(inbox, std::move(input_)));
      input_.clear();
      reply.set_masked_input(PackWords(masked.words, field_bits_));
      phase_ = Phase::kMasked;
      break;
    }
    case v1::SecAggRequest::kUnmask: {
      if (phase_ != Phase::kMasked) return out_of_turn("unmasking");
      UnmaskRequest u;
      u.round = request.round();
      u.survivors.assign(request.unmask().survivors().begin(), request.unmask().survivors().end());
      u.dropped.assign(request.unmask().dropped().begin(), request.unmask().dropped().end());
      TAILOR_ASSIGN_OR_RETURN(UnmaskResponse r, client_->Unmask(u));
      *reply.mutable_unmask() = ToProto(r);
      phase_ = Phase::kDone;
      break;
    }
    default:
      return absl::InvalidArgumentError("a secure-aggregation request without a phase");
  }
  return reply.SerializeAsString();
}

}  // namespace tailor
