// Whether a gRPC address names this machine only, decided on the address, not its text:
// "127.0.0.1.nip.io:50051" starts like a loopback address and is not one.
#ifndef TAILOR_CORE_LOOPBACK_H_
#define TAILOR_CORE_LOOPBACK_H_

#include <string>

namespace tailor {

// True for a numeric IPv4 address in 127.0.0.0/8 or IPv6 ::1 (with an optional "ipv4:"/"ipv6:"
// scheme and ":port"), and for "localhost" when every address it resolves to is one of those.
// Any other host name is not loopback: what it resolves to may change after this check.
bool IsLoopbackAddress(const std::string& address);

}  // namespace tailor

#endif  // TAILOR_CORE_LOOPBACK_H_
