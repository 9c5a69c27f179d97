#include "core/malloc_tuning.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tailor {

void TuneMallocForTraining() {
#if defined(__GLIBC__)
  // 32 MiB is the largest mmap threshold glibc accepts (a larger value is silently refused and
  // would leave only the trim setting, which disables glibc's own dynamic threshold: worse).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace tailor
