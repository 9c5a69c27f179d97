// The secure-aggregation protocol of Bonawitz et al. (CCS 2017, Fig. 4) between clients and a
// coordinator, as in-memory messages (the transport maps them onto tailor.v1 later):
//   0. advertise keys: each client sends two X25519 public keys, for share encryption (c) and
//      for masks (s); the session id binds the round and every advertised key;
//   1. share keys: each client Shamir-shares its mask secret s_sk and a fresh self-mask seed b
//      among the advertisers (SecAgg+: among its neighbours), each pair of shares encrypted to its holder (XChaCha20-Poly1305
//      keyed by their c-agreement, the session and both ids as associated data);
//   2. masked input: each client that received shares adds b's mask and a pairwise mask per
//      share sender (+ for a higher id, - for a lower) to its encoded update;
//   3. unmasking: the coordinator names who sent a masked input (survivors) and who shared but
//      did not (dropped); each helper returns its share of b for every survivor and of s_sk for
//      every dropped client, never both for one client.
// A client refuses a request naming a client as both survivor and dropped, naming one that never
// shared with it, naming itself dropped, or a second request; it refuses messages of another
// round or session. With fewer than t clients at any phase the coordinator aborts and learns
// nothing. Honest-but-curious coordinator; an active one is limited by these refusals (a
// consistency check of the survivor list across clients, signatures, is not built).
#ifndef TAILOR_PRIVACY_SECAGG_PROTOCOL_H_
#define TAILOR_PRIVACY_SECAGG_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "privacy/secagg_crypto.h"
#include "privacy/secagg_masking.h"
#include "privacy/secure_random.h"
#include "privacy/shamir.h"

namespace tailor {

struct SecAggRoundConfig {
  int64_t round = 0;
  int threshold = 0;     // t
  SecAggField field;     // where inputs and sums live
  size_t length = 0;     // words per input
  // SecAgg+ (privacy/secagg_graph.h): each client shares with and masks against only its k
  // neighbours in the Harary graph seeded by the session id; 0 (or >= the roster size - 1):
  // everyone, the original protocol. Even.
  int neighbours = 0;
};

// The graph of a roster: client id -> its neighbours' ids. Both sides derive it from the session
// id (which hashes every advertised key), so neither the coordinator nor a client chooses it.
std::map<int64_t, std::set<int64_t>> SecAggNeighbours(const std::vector<int64_t>& roster_ids,
                                                      int neighbours, const Key32& session);

struct KeyAdvertisement {
  int64_t client = 0;
  Key32 cipher_public{};
  Key32 mask_public{};
};

struct SealedShares {
  int64_t from = 0, to = 0;
  std::string ciphertext;
};

struct MaskedInput {
  int64_t client = 0;
  std::vector<uint64_t> words;
};

struct UnmaskRequest {
  int64_t round = 0;
  std::vector<int64_t> survivors;  // sent a masked input
  std::vector<int64_t> dropped;    // shared keys, sent no masked input
};

struct UnmaskResponse {
  int64_t client = 0;
  std::map<int64_t, ShamirShare> seed_shares;  // for survivors: shares of their self-mask seed
  std::map<int64_t, ShamirShare> key_shares;   // for dropped: shares of their mask secret
};

class SecAggClient {
 public:
  // `random` keys the client's secrets (OS entropy in a deployment; a seeded stream in a
  // reproducible simulation). Not owned; must outlive the client.
  SecAggClient(int64_t id, SecAggRoundConfig config, SecureRandom* random);

  KeyAdvertisement Advertise();
  // Phase 1. `roster`: every advertisement the coordinator forwards (this client's included).
  absl::StatusOr<std::vector<SealedShares>> ShareKeys(absl::Span<const KeyAdvertisement> roster);
  // Phase 2. `inbox`: the sealed shares addressed to this client; `input`: its encoded update.
  absl::StatusOr<MaskedInput> MaskInput(absl::Span<const SealedShares> inbox,
                                        std::vector<uint64_t> input);
  // Phase 3.
  absl::StatusOr<UnmaskResponse> Unmask(const UnmaskRequest& request);

 private:
  int64_t id_;
  SecAggRoundConfig config_;
  SecureRandom* random_;
  AgreementKeyPair cipher_keys_, mask_keys_;
  Key32 self_seed_{};
  Key32 session_{};
  std::map<int64_t, KeyAdvertisement> roster_;
  std::set<int64_t> neighbours_;  // in the session's graph
  // Decrypted shares held for each peer that shared with this client.
  std::map<int64_t, std::pair<ShamirShare, ShamirShare>> held_;  // peer -> (s_sk share, b share)
  bool unmasked_ = false;
};

class SecAggServer {
 public:
  explicit SecAggServer(SecAggRoundConfig config);

  // Phase 0 → the roster every client gets. FAILED_PRECONDITION below t (the round aborts).
  absl::StatusOr<std::vector<KeyAdvertisement>> CollectAdvertisements(
      absl::Span<const KeyAdvertisement> advertisements);
  // Phase 1 → each holder's inbox. Clients whose shares did not all arrive are left out.
  absl::StatusOr<std::map<int64_t, std::vector<SealedShares>>> RouteShares(
      absl::Span<const SealedShares> shares);
  // The clients whose shares reached all their neighbours (after RouteShares).
  const std::set<int64_t>& sharers() const { return shared_; }
  // Phase 2 → the unmasking request.
  absl::StatusOr<UnmaskRequest> CollectMaskedInputs(absl::Span<const MaskedInput> inputs);
  // Phase 3 → the sum of the survivors' inputs modulo 2^bits. FAILED_PRECONDITION with fewer
  // than t responses (nothing is reconstructed).
  absl::StatusOr<std::vector<uint64_t>> Unmask(absl::Span<const UnmaskResponse> responses);

 private:
  SecAggRoundConfig config_;
  Key32 session_{};
  std::map<int64_t, KeyAdvertisement> roster_;
  std::map<int64_t, std::set<int64_t>> graph_;
  std::set<int64_t> shared_;  // phase-1 senders
  std::vector<uint64_t> sum_;
  UnmaskRequest request_;
};

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_PROTOCOL_H_
