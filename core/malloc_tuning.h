// Process-wide allocator tuning for training workloads. Call once from main(), before threads
// start; libraries never call it.
#ifndef TAILOR_CORE_MALLOC_TUNING_H_
#define TAILOR_CORE_MALLOC_TUNING_H_

namespace tailor {

// glibc serves every allocation above M_MMAP_THRESHOLD with a fresh mmap and unmaps it on free,
// so a training step that allocates multi-megabyte activations page-faults them in again on
// every step (measured: a batch-64 CNN step spent 3x its compute time in page faults), and every
// copy of a large model is mapped and unmapped again. Raising the mmap and trim thresholds and
// serving large blocks from the heap keeps freed buffers for reuse. No-op off glibc.
void TuneMallocForTraining();

// For the coordinator, on top of the above: one malloc arena. Its uploads are decoded on gRPC's
// threads, and glibc gives each thread its own arena whose heaps (64 MiB each) are unmapped as
// soon as they empty, whatever the trim threshold: every 40 MB update was page-faulted into
// fresh memory (measured: ~25% of a transport-only round in clear_page and page faults;
// bench/transport_round.sh 1.55-1.72 s -> 1.21-1.33 s). Not for training processes, where
// several threads allocating small blocks share one lock (a simulation ran ~10% slower).
void TuneMallocForServing();

}  // namespace tailor

#endif  // TAILOR_CORE_MALLOC_TUNING_H_
