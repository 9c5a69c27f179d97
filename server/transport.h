// ClientTransport: how the round logic reaches clients. The round state machine (round.h) and
// the experiment loop (coordinator.h) are written once against this interface; the simulation
// implements it in-process (sim/in_process_transport.h) and the network issue adds a gRPC
// implementation. Neither may contain round logic of its own.
#ifndef TAILOR_SERVER_TRANSPORT_H_
#define TAILOR_SERVER_TRANSPORT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/client_runtime.h"

namespace tailor {

// Receives the outcome of a training task. Thread-safe implementations: transports call it
// from any thread, in any order.
class UpdateSink {
 public:
  virtual ~UpdateSink() = default;
  // Returns the acceptance decision (the gRPC adapter relays it to the client).
  virtual absl::Status OnUpdate(const UpdateUpload& upload) = 0;
  // The client could not complete the task (a dropout, a local error).
  virtual void OnTrainFailure(int64_t client_id, int64_t round, const absl::Status& why) = 0;
  // False once the round closed (a transport need not hand its task out any more).
  virtual bool open() const { return true; }
};

class EvalSink {
 public:
  virtual ~EvalSink() = default;
  // Returns the acceptance decision (the gRPC adapter relays it to the client).
  virtual absl::Status OnEvalReport(const EvalReport& report) = 0;
  virtual void OnEvalFailure(int64_t client_id, const absl::Status& why) = 0;
  // False once the evaluation is over.
  virtual bool open() const { return true; }
};

// Receives the replies of one secure-aggregation exchange (server/secure_sum.h).
class SecAggSink {
 public:
  virtual ~SecAggSink() = default;
  // A serialized v1::SecAggReply.
  virtual void OnSecAggReply(int64_t client_id, std::string reply) = 0;
  virtual void OnSecAggFailure(int64_t client_id, const absl::Status& why) = 0;
};

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  // Asks each client of `cohort` to train on `task`. Returns at once; each cohort member that
  // answers is reported to `sink` (an update or a failure). The transport shares ownership of
  // the sink, so a late answer after the round closed reaches a live object that refuses it.
  virtual void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                             std::shared_ptr<UpdateSink> sink) = 0;
  // Asks `clients` to evaluate their personalized model under `task`; same reporting contract.
  virtual void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                            std::shared_ptr<EvalSink> sink) = 0;
  // Secure aggregation's exchanges after training: sends each client its serialized
  // v1::SecAggRequest (client id -> bytes), each answer to `sink`. Default: every client fails
  // with UNIMPLEMENTED (a transport that cannot carry the protocol).
  virtual void DispatchSecAgg(int64_t round, const std::map<int64_t, std::string>& requests,
                              std::shared_ptr<SecAggSink> sink) {
    (void)round;
    for (const auto& [id, request] : requests) {
      sink->OnSecAggFailure(id, absl::UnimplementedError(
                                    "this transport does not carry secure aggregation"));
    }
  }
  // The experiment is over: clients may be told to stop. Default: nothing to do.
  virtual void Finish() {}
};

}  // namespace tailor

#endif  // TAILOR_SERVER_TRANSPORT_H_
