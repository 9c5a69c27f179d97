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

}  // namespace tailor

#endif  // TAILOR_CORE_MALLOC_TUNING_H_
