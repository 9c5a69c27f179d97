#include "privacy/secagg_protocol.h"

#include <sodium.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "privacy/secagg_graph.h"

namespace tailor {
namespace {

constexpr size_t kSecretBytes = 32;

void PutU64(uint64_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t GetU64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return v;
}

// The session binds the round and both keys of every advertiser.
Key32 SessionOf(int64_t round, const std::map<int64_t, KeyAdvertisement>& roster) {
  std::vector<std::pair<int64_t, Key32>> keys;
  for (const auto& [id, ad] : roster) {
    keys.push_back({id, ad.cipher_public});
    keys.push_back({id, ad.mask_public});
  }
  return SessionId(round, keys);
}

// What authenticates a sealed pair of shares: the session, sender and holder.
std::vector<uint8_t> AssociatedData(const Key32& session, int64_t from, int64_t to) {
  std::vector<uint8_t> ad(session.begin(), session.end());
  PutU64(static_cast<uint64_t>(from), &ad);
  PutU64(static_cast<uint64_t>(to), &ad);
  return ad;
}

void PutShare(const ShamirShare& s, std::vector<uint8_t>* out) {
  PutU64(s.x, out);
  PutU64(s.ys.size(), out);
  for (uint128 y : s.ys) {
    PutU64(static_cast<uint64_t>(y), out);
    PutU64(static_cast<uint64_t>(y >> 64), out);
  }
}

absl::StatusOr<ShamirShare> GetShare(const std::vector<uint8_t>& in, size_t* at) {
  auto need = [&](size_t n) { return *at + n <= in.size(); };
  if (!need(16)) return absl::InvalidArgumentError("a sealed share is cut short");
  ShamirShare s;
  s.x = static_cast<uint32_t>(GetU64(&in[*at]));
  const uint64_t count = GetU64(&in[*at + 8]);
  *at += 16;
  if (count > 16 || !need(16 * count)) return absl::InvalidArgumentError("a sealed share is cut short");
  for (uint64_t i = 0; i < count; ++i) {
    s.ys.push_back(static_cast<uint128>(GetU64(&in[*at])) |
                   static_cast<uint128>(GetU64(&in[*at + 8])) << 64);
    *at += 16;
  }
  return s;
}

uint32_t PointOf(int64_t client) { return static_cast<uint32_t>(client + 1); }

absl::Status CheckClientId(int64_t id) {
  if (id < 0 || id >= 0xfffffffeLL) {
    return absl::InvalidArgumentError(absl::StrCat("client id ", id, " is outside [0, 2^32 - 2)"));
  }
  return absl::OkStatus();
}

Key32 ToKey(const std::vector<uint8_t>& bytes) {
  Key32 k{};
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(k.size()), k.begin());
  return k;
}

std::vector<int64_t> IdsOf(const std::map<int64_t, KeyAdvertisement>& roster) {
  std::vector<int64_t> ids;
  for (const auto& [id, ad] : roster) ids.push_back(id);
  return ids;
}

}  // namespace

std::map<int64_t, std::set<int64_t>> SecAggNeighbours(const std::vector<int64_t>& roster_ids,
                                                      int neighbours, const Key32& session) {
  const int64_t n = static_cast<int64_t>(roster_ids.size());
  std::map<int64_t, std::set<int64_t>> graph;
  if (neighbours <= 0 || neighbours >= n - 1) {
    for (int64_t a : roster_ids) {
      for (int64_t b : roster_ids) {
        if (a != b) graph[a].insert(b);
      }
    }
    return graph;
  }
  uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed |= static_cast<uint64_t>(session[i]) << (8 * i);
  const std::vector<std::vector<int64_t>> by_index = NeighbourGraph(n, neighbours, seed);
  for (int64_t i = 0; i < n; ++i) {
    std::set<int64_t>& mine = graph[roster_ids[i]];
    for (int64_t j : by_index[i]) mine.insert(roster_ids[j]);
  }
  return graph;
}

SecAggClient::SecAggClient(int64_t id, SecAggRoundConfig config, SecureRandom* random)
    : id_(id), config_(config), random_(random) {}

KeyAdvertisement SecAggClient::Advertise() {
  // Fresh keys every round.
  cipher_keys_ = *AgreementKeyPairFromSeed(RandomKey32(*random_));
  mask_keys_ = *AgreementKeyPairFromSeed(RandomKey32(*random_));
  return {id_, cipher_keys_.public_key, mask_keys_.public_key};
}

absl::StatusOr<std::vector<SealedShares>> SecAggClient::ShareKeys(
    absl::Span<const KeyAdvertisement> roster) {
  TAILOR_RETURN_IF_ERROR(CheckClientId(id_));
  roster_.clear();
  for (const KeyAdvertisement& ad : roster) {
    TAILOR_RETURN_IF_ERROR(CheckClientId(ad.client));
    if (!roster_.emplace(ad.client, ad).second) {
      return absl::InvalidArgumentError(absl::StrCat("client ", ad.client, " is in the roster twice"));
    }
  }
  auto mine = roster_.find(id_);
  if (mine == roster_.end() || mine->second.cipher_public != cipher_keys_.public_key ||
      mine->second.mask_public != mask_keys_.public_key) {
    return absl::InvalidArgumentError("the roster does not hold this client's own keys");
  }
  if (roster_.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        roster_.size(), " clients advertised keys, fewer than the threshold ", config_.threshold));
  }
  session_ = SessionOf(config_.round, roster_);
  neighbours_ = SecAggNeighbours(IdsOf(roster_), config_.neighbours, session_)[id_];
  if (neighbours_.size() + 1 < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this client has ", neighbours_.size(), " neighbours, fewer than the threshold ",
        config_.threshold, " - 1"));
  }
  self_seed_ = RandomKey32(*random_);
  // Shares for the neighbours and one this client keeps, in ascending id order.
  std::vector<int64_t> holders(neighbours_.begin(), neighbours_.end());
  holders.insert(std::upper_bound(holders.begin(), holders.end(), id_), id_);
  std::vector<uint32_t> xs;
  for (int64_t id : holders) xs.push_back(PointOf(id));
  TAILOR_ASSIGN_OR_RETURN(std::vector<ShamirShare> key_shares,
                          ShamirSplit(mask_keys_.secret_key, config_.threshold, xs, *random_));
  TAILOR_ASSIGN_OR_RETURN(std::vector<ShamirShare> seed_shares,
                          ShamirSplit(self_seed_, config_.threshold, xs, *random_));
  std::vector<SealedShares> out;
  size_t i = 0;
  held_.clear();
  for (int64_t peer : holders) {
    const KeyAdvertisement& ad = roster_[peer];
    if (peer == id_) {
      held_[id_] = {key_shares[i], seed_shares[i]};
      ++i;
      continue;
    }
    std::vector<uint8_t> plain;
    PutU64(static_cast<uint64_t>(id_), &plain);
    PutU64(static_cast<uint64_t>(peer), &plain);
    PutShare(key_shares[i], &plain);
    PutShare(seed_shares[i], &plain);
    ++i;
    TAILOR_ASSIGN_OR_RETURN(Key32 key, AgreeSessionKey(cipher_keys_, ad.cipher_public, session_));
    TAILOR_ASSIGN_OR_RETURN(std::string sealed,
                            EncryptShare(key, plain, AssociatedData(session_, id_, peer)));
    sodium_memzero(plain.data(), plain.size());
    sodium_memzero(key.data(), key.size());
    out.push_back({id_, peer, std::move(sealed)});
  }
  return out;
}

absl::StatusOr<MaskedInput> SecAggClient::MaskInput(absl::Span<const SealedShares> inbox,
                                                    std::vector<uint64_t> input) {
  if (roster_.empty()) return absl::FailedPreconditionError("keys were never shared");
  if (input.size() != config_.length) {
    return absl::InvalidArgumentError(absl::StrCat("an input of ", input.size(), " words, the round sums ",
                                                   config_.length));
  }
  std::map<int64_t, std::pair<ShamirShare, ShamirShare>> received = {{id_, held_[id_]}};
  for (const SealedShares& s : inbox) {
    auto from = roster_.find(s.from);
    if (s.to != id_ || from == roster_.end() || !neighbours_.count(s.from)) {
      return absl::InvalidArgumentError(absl::StrCat("shares from ", s.from, " to ", s.to,
                                                     " are not for this client from a neighbour"));
    }
    TAILOR_ASSIGN_OR_RETURN(Key32 key,
                            AgreeSessionKey(cipher_keys_, from->second.cipher_public, session_));
    TAILOR_ASSIGN_OR_RETURN(std::vector<uint8_t> plain,
                            DecryptShare(key, s.ciphertext, AssociatedData(session_, s.from, id_)));
    sodium_memzero(key.data(), key.size());
    if (plain.size() < 16 || GetU64(plain.data()) != static_cast<uint64_t>(s.from) ||
        GetU64(plain.data() + 8) != static_cast<uint64_t>(id_)) {
      return absl::InvalidArgumentError(absl::StrCat("the shares from ", s.from, " name other parties"));
    }
    size_t at = 16;
    TAILOR_ASSIGN_OR_RETURN(ShamirShare key_share, GetShare(plain, &at));
    TAILOR_ASSIGN_OR_RETURN(ShamirShare seed_share, GetShare(plain, &at));
    sodium_memzero(plain.data(), plain.size());
    if (!received.emplace(s.from, std::make_pair(key_share, seed_share)).second) {
      return absl::InvalidArgumentError(absl::StrCat("two sets of shares from ", s.from));
    }
  }
  if (received.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        received.size(), " clients shared keys, fewer than the threshold ", config_.threshold));
  }
  held_ = std::move(received);
  // Pairwise masks with exactly the clients that shared (they are the ones the others mask
  // with too), the self mask from b.
  std::vector<PeerKey> peers;
  for (const auto& [peer, shares] : held_) {
    if (peer == id_) continue;
    TAILOR_ASSIGN_OR_RETURN(Key32 key,
                            AgreeSessionKey(mask_keys_, roster_[peer].mask_public, session_));
    peers.push_back({peer, key});
  }
  AddMasks(id_, self_seed_, peers, config_.field, absl::MakeSpan(input));
  for (PeerKey& p : peers) sodium_memzero(p.key.data(), p.key.size());
  return MaskedInput{id_, std::move(input)};
}

absl::StatusOr<UnmaskResponse> SecAggClient::Unmask(const UnmaskRequest& request) {
  if (request.round != config_.round) {
    return absl::InvalidArgumentError(absl::StrCat("an unmasking request for round ", request.round,
                                                   " in round ", config_.round));
  }
  if (unmasked_) return absl::FailedPreconditionError("a second unmasking request");
  std::set<int64_t> survivors(request.survivors.begin(), request.survivors.end());
  UnmaskResponse out;
  out.client = id_;
  for (int64_t d : request.dropped) {
    if (survivors.count(d)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "client ", d, " is named both survivor and dropped: revealing both shares would "
          "unmask it"));
    }
    if (d == id_) return absl::InvalidArgumentError("this client is named dropped");
  }
  // Only this client's neighbours (and itself) are its to answer for; a neighbour it holds no
  // shares of did not share with it, and cannot be a survivor or a recoverable dropout.
  auto mine = [&](int64_t c) { return c == id_ || neighbours_.count(c) > 0; };
  for (int64_t c : survivors) {
    if (mine(c) && !held_.count(c)) {
      return absl::InvalidArgumentError(absl::StrCat("client ", c, " never shared with this one"));
    }
  }
  for (int64_t d : request.dropped) {
    if (mine(d) && !held_.count(d)) {
      return absl::InvalidArgumentError(absl::StrCat("client ", d, " never shared with this one"));
    }
  }
  unmasked_ = true;
  for (int64_t c : survivors) {
    if (mine(c)) out.seed_shares[c] = held_[c].second;
  }
  for (int64_t d : request.dropped) {
    if (mine(d)) out.key_shares[d] = held_[d].first;
  }
  return out;
}

SecAggServer::SecAggServer(SecAggRoundConfig config) : config_(config) {}

absl::StatusOr<std::vector<KeyAdvertisement>> SecAggServer::CollectAdvertisements(
    absl::Span<const KeyAdvertisement> advertisements) {
  roster_.clear();
  for (const KeyAdvertisement& ad : advertisements) {
    TAILOR_RETURN_IF_ERROR(CheckClientId(ad.client));
    roster_.emplace(ad.client, ad);  // the first advertisement of a client counts
  }
  if (roster_.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round aborted: ", roster_.size(), " clients advertised keys, the threshold is ",
        config_.threshold));
  }
  session_ = SessionOf(config_.round, roster_);
  graph_ = SecAggNeighbours(IdsOf(roster_), config_.neighbours, session_);
  std::vector<KeyAdvertisement> out;
  for (const auto& [id, ad] : roster_) out.push_back(ad);
  return out;
}

absl::StatusOr<std::map<int64_t, std::vector<SealedShares>>> SecAggServer::RouteShares(
    absl::Span<const SealedShares> shares) {
  std::map<int64_t, std::map<int64_t, const SealedShares*>> by_sender;
  for (const SealedShares& s : shares) {
    if (roster_.count(s.from) && graph_[s.from].count(s.to)) by_sender[s.from][s.to] = &s;
  }
  shared_.clear();
  std::map<int64_t, std::vector<SealedShares>> inbox;
  for (const auto& [from, to] : by_sender) {
    if (to.size() != graph_[from].size()) continue;  // not to every neighbour: left out
    shared_.insert(from);
    for (const auto& [holder, sealed] : to) inbox[holder].push_back(*sealed);
  }
  if (shared_.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round aborted: ", shared_.size(), " clients shared keys, the threshold is ",
        config_.threshold));
  }
  // A holder only gets shares from clients that shared with everyone.
  for (auto& [holder, list] : inbox) {
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const SealedShares& s) { return !shared_.count(s.from); }),
               list.end());
  }
  return inbox;
}

absl::StatusOr<UnmaskRequest> SecAggServer::CollectMaskedInputs(absl::Span<const MaskedInput> inputs) {
  sum_.assign(config_.length, 0);
  request_ = UnmaskRequest();
  request_.round = config_.round;
  std::set<int64_t> survivors;
  for (const MaskedInput& in : inputs) {
    if (!shared_.count(in.client) || in.words.size() != config_.length ||
        !survivors.insert(in.client).second) {
      continue;  // not a sharer, a wrong size or a second input: not counted
    }
    AddModulo(in.words, config_.field, absl::MakeSpan(sum_));
  }
  if (survivors.size() < static_cast<size_t>(config_.threshold)) {
    sum_.clear();
    return absl::FailedPreconditionError(absl::StrCat(
        "round aborted: ", survivors.size(), " masked inputs, the threshold is ", config_.threshold));
  }
  request_.survivors.assign(survivors.begin(), survivors.end());
  for (int64_t c : shared_) {
    if (!survivors.count(c)) request_.dropped.push_back(c);
  }
  return request_;
}

absl::StatusOr<std::vector<uint64_t>> SecAggServer::Unmask(absl::Span<const UnmaskResponse> responses) {
  std::map<int64_t, const UnmaskResponse*> helpers;
  const std::set<int64_t> survivors(request_.survivors.begin(), request_.survivors.end());
  for (const UnmaskResponse& r : responses) {
    if (survivors.count(r.client)) helpers.emplace(r.client, &r);
  }
  if (helpers.size() < static_cast<size_t>(config_.threshold)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round aborted: ", helpers.size(), " clients helped unmask, the threshold is ",
        config_.threshold));
  }
  auto combine = [&](int64_t whose, bool seed) -> absl::StatusOr<Key32> {
    std::vector<ShamirShare> shares;
    for (const auto& [helper, r] : helpers) {
      const auto& from = seed ? r->seed_shares : r->key_shares;
      auto it = from.find(whose);
      if (it != from.end()) shares.push_back(it->second);
    }
    if (shares.size() < static_cast<size_t>(config_.threshold)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "round aborted: ", shares.size(), " of client ", whose, "'s neighbours helped unmask ",
          seed ? "its self mask" : "its pairwise masks", ", the threshold is ", config_.threshold));
    }
    TAILOR_ASSIGN_OR_RETURN(std::vector<uint8_t> secret,
                            ShamirCombine(shares, config_.threshold, kSecretBytes));
    const Key32 k = ToKey(secret);
    sodium_memzero(secret.data(), secret.size());
    return k;
  };
  std::vector<Key32> seeds;
  for (int64_t s : request_.survivors) {
    TAILOR_ASSIGN_OR_RETURN(Key32 seed, combine(s, /*seed=*/true));
    seeds.push_back(seed);
  }
  std::vector<DroppedPairMask> dropped;
  for (int64_t d : request_.dropped) {
    TAILOR_ASSIGN_OR_RETURN(Key32 secret, combine(d, /*seed=*/false));
    TAILOR_ASSIGN_OR_RETURN(AgreementKeyPair rebuilt, AgreementKeyPairFromSeed(secret));
    sodium_memzero(secret.data(), secret.size());
    if (rebuilt.public_key != roster_[d].mask_public) {
      return absl::DataLossError(absl::StrCat("the shares of client ", d,
                                              "'s mask secret do not rebuild its advertised key"));
    }
    for (int64_t u : request_.survivors) {
      if (!graph_[d].count(u)) continue;  // never masked with d
      TAILOR_ASSIGN_OR_RETURN(Key32 key, AgreeSessionKey(rebuilt, roster_[u].mask_public, session_));
      dropped.push_back({u, d, key});
    }
  }
  RemoveMasks(seeds, dropped, config_.field, absl::MakeSpan(sum_));
  for (Key32& k : seeds) sodium_memzero(k.data(), k.size());
  for (DroppedPairMask& m : dropped) sodium_memzero(m.key.data(), m.key.size());
  return sum_;
}

}  // namespace tailor
