#!/usr/bin/env bash
# Server optimizers (issue 4): configs/codec_fedavg.textproto (FedAvg clients, uncompressed) with
# each server optimizer at the learning rate Reddi et al. 2021 report working for it
# (bench/sweep.sh).
#   bash bench/server_optimizers.sh [BUILD_DIR]
build=${1:-build}
exec bash bench/sweep.sh "$build" configs/codec_fedavg.textproto \
  'sgd (FedAvg), lr 1=server.optimizer=sgd' \
  'fedavgm, lr 1, momentum 0.9=server.optimizer=fedavgm,server.server_momentum=0.9' \
  'fedavgm, lr 0.3, momentum 0.7=server.optimizer=fedavgm,server.server_learning_rate=0.3,server.server_momentum=0.7' \
  'fedadagrad, lr 0.03=server.optimizer=fedadagrad,server.server_learning_rate=0.03' \
  'fedadam, lr 0.01=server.optimizer=fedadam,server.server_learning_rate=0.01' \
  'fedyogi, lr 0.01=server.optimizer=fedyogi,server.server_learning_rate=0.01'
