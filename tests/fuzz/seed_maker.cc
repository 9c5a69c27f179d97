// Writes the fuzz targets' seed corpora from the real encoders, so each starts from inputs that
// reach deep: valid TLPS sets, shared updates in every codec, a checkpoint store with rounds, and
// RPC scripts. Usage: seed_maker OUT_DIR (tests/fuzz/make_seeds.sh).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/env.h"
#include "core/serialization.h"
#include "core/update_codec.h"
#include "core/wire_update.h"
#include "server/checkpoint_store.h"
#include "tests/fuzz/fuzz_util.h"

namespace tailor {
namespace {

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  Env::Default()->CreateDirs(dir).IgnoreError();
  if (!Env::Default()->WriteFileAtomically(dir + "/" + name, bytes).ok()) {
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

// A decodable input for DecodableBytes: mode byte 0 (as is), then the bytes.
std::string AsIs(const std::string& bytes) { return std::string(1, '\0') + bytes; }

int Main(const std::string& out) {
  const ParameterSet schema = fuzz::FuzzSchema();
  ParameterSet mixed = schema;
  Tensor f64(DType::kFloat64, {2, 2});
  mixed.Add("f64", f64).IgnoreError();
  mixed.Add("steps", Tensor(DType::kInt64, {1})).IgnoreError();
  Write(out + "/tlps_fuzzer", "schema", AsIs(SerializeParameterSet(schema)));
  Write(out + "/tlps_fuzzer", "mixed", AsIs(SerializeParameterSet(mixed)));
  Write(out + "/tlps_fuzzer", "empty", AsIs(SerializeParameterSet(ParameterSet())));
  for (const char* codec : {"none", "fp16", "bf16", "int8", "topk"}) {
    UpdateCodecOptions options;
    options.name = codec;
    options.topk_fraction = 0.5;
    const ParameterSet wire = *CompressUpdate(schema, options, 7, nullptr);
    const std::string encoded = *EncodeSharedUpdate(wire, PersonalizationPolicy());
    Write(out + "/shared_update_fuzzer", codec, AsIs(encoded));
    Write(out + "/codec_fuzzer", codec, AsIs(SerializeParameterSet(wire)));
  }
  // A store with two committed rounds (the second's evaluation pending) and an attempt.
  const std::string store_dir = out + "/.store";
  {
    auto store = CheckpointStore::Open(store_dir, "fuzz", Env::Default());
    (*store)->SaveRound(1, schema, ParameterSet(), "{\"round\":1}").IgnoreError();
    (*store)->SaveRound(2, schema, ParameterSet(), "{\"round\":2}", true).IgnoreError();
    (*store)->RecordAttempt({3, 2, {1}}).IgnoreError();
  }
  const std::string db = *Env::Default()->ReadFile(store_dir + "/coordinator.db");
  const std::string model = SerializeParameterSet(schema);
  std::string input = {static_cast<char>(db.size() & 0xff), static_cast<char>(db.size() >> 8)};
  Write(out + "/checkpoint_fuzzer", "two_rounds", input + db + model);
  // Eval reports: a few plausible ones.
  Write(out + "/eval_report_fuzzer", "plain",
        std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x03"
                    "\x00\x00\x00\x00\x00\x00\x00\x04",
                    17));
  return 0;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: seed_maker OUT_DIR\n");
    return 2;
  }
  return tailor::Main(argv[1]);
}
