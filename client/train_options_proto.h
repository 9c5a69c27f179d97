// TrainOptions <-> tailor.v1.TrainOptionsMsg, in one place so the coordinator and the client
// daemon can never disagree on a field.
#ifndef TAILOR_CLIENT_TRAIN_OPTIONS_PROTO_H_
#define TAILOR_CLIENT_TRAIN_OPTIONS_PROTO_H_

#include "client/local_trainer.h"
#include "tailor/v1/coordinator.pb.h"

namespace tailor {

void TrainOptionsToProto(const TrainOptions& options, v1::TrainOptionsMsg* out);
// Empty or zero fields keep TrainOptions' defaults where zero would be invalid (the codec name,
// DP-SGD's δ). The filters and DP-SGD's coins are the device's own, never on the wire.
TrainOptions TrainOptionsFromProto(const v1::TrainOptionsMsg& msg);

}  // namespace tailor

#endif  // TAILOR_CLIENT_TRAIN_OPTIONS_PROTO_H_
