#!/usr/bin/env bash
# Upload codecs (issue 4): configs/codec_fedavg.textproto once per codec (bench/sweep.sh).
#   bash bench/codecs.sh [BUILD_DIR]
build=${1:-build}
exec bash bench/sweep.sh "$build" configs/codec_fedavg.textproto \
  'none=upload.codec=none' 'fp16=upload.codec=fp16' 'bf16=upload.codec=bf16' \
  'int8=upload.codec=int8' 'topk 10%=upload.codec=topk,upload.topk_fraction=0.1' \
  'topk 1%=upload.codec=topk,upload.topk_fraction=0.01'
