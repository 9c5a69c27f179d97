#include "client/train_options_proto.h"

namespace tailor {

void TrainOptionsToProto(const TrainOptions& options, v1::TrainOptionsMsg* o) {
  o->set_learning_rate(options.learning_rate);
  o->set_batch_size(options.batch_size);
  o->set_epochs(options.epochs);
  o->set_momentum(options.momentum);
  o->set_weight_decay(options.weight_decay);
  o->set_drop_last(options.drop_last);
  o->set_proximal_mu(options.proximal_mu);
  o->set_upload_codec(options.upload_codec);
  o->set_topk_fraction(options.topk_fraction);
  o->set_clip_norm(options.clip_norm);
  o->set_dp_sgd_clip_norm(options.dp_sgd_clip_norm);
  o->set_dp_sgd_noise_multiplier(options.dp_sgd_noise_multiplier);
  o->set_dp_sgd_delta(options.dp_sgd_delta);
}

TrainOptions TrainOptionsFromProto(const v1::TrainOptionsMsg& msg) {
  TrainOptions t;
  t.learning_rate = msg.learning_rate();
  t.batch_size = msg.batch_size();
  t.epochs = msg.epochs();
  t.momentum = msg.momentum();
  t.weight_decay = msg.weight_decay();
  t.drop_last = msg.drop_last();
  t.proximal_mu = msg.proximal_mu();
  if (!msg.upload_codec().empty()) t.upload_codec = msg.upload_codec();
  t.topk_fraction = msg.topk_fraction();
  t.clip_norm = msg.clip_norm();
  t.dp_sgd_clip_norm = msg.dp_sgd_clip_norm();
  t.dp_sgd_noise_multiplier = msg.dp_sgd_noise_multiplier();
  if (msg.dp_sgd_delta() > 0) t.dp_sgd_delta = msg.dp_sgd_delta();
  return t;
}

}  // namespace tailor
