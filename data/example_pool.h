// A task's examples, indexed: clients hold index lists (train, val, test) into one shared,
// immutable pool. Image pools hold pixels and labels (data/image_dataset.h), text pools hold
// byte strings (data/text_dataset.h); the trainer reads the kind its task needs.
#ifndef TAILOR_DATA_EXAMPLE_POOL_H_
#define TAILOR_DATA_EXAMPLE_POOL_H_

#include <cstddef>

#include "core/task.h"

namespace tailor {

class ExamplePool {
 public:
  virtual ~ExamplePool() = default;
  virtual TaskKind task() const = 0;
  virtual size_t size() const = 0;
};

}  // namespace tailor

#endif  // TAILOR_DATA_EXAMPLE_POOL_H_
