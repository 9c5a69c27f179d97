// Plaintext is allowed on loopback only, and loopback is decided on the address, not its text.
#include "core/loopback.h"

#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(Loopback, NumericLoopbackAddressesAndLocalhost) {
  for (const char* a : {"127.0.0.1:50051", "127.1.2.3:1", "ipv4:127.0.0.1:9", "[::1]:50051",
                        "ipv6:[::1]:5", "localhost:50051", "dns:///127.0.0.1:7"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
}

TEST(Loopback, NamesThatOnlyLookLikeLoopbackAreNot) {
  for (const char* a :
       {"127.0.0.1.nip.io:50051", "localhost.example.com:1", "0.0.0.0:50051", "10.1.2.3:50051",
        "[::]:50051", "[::ffff:10.0.0.1]:5", "example.com:443", "127.0.0.256:1", "", "[::1",
        "ipv4:10.0.0.1:5", "128.0.0.1:5"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

}  // namespace
}  // namespace tailor
