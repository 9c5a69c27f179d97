// UTF-8 validation, for config strings and users' text.
#ifndef TAILOR_CORE_UTF8_H_
#define TAILOR_CORE_UTF8_H_

#include "absl/strings/string_view.h"

namespace tailor {

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view s);

}  // namespace tailor

#endif  // TAILOR_CORE_UTF8_H_
