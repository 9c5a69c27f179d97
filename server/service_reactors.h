// The streaming reactors of CoordinatorService (internal to server/): a model streamed out in
// bounded chunks, an update decoded as its chunks arrive. The service authenticates and routes;
// these only move bytes and enforce sizes.
#ifndef TAILOR_SERVER_SERVICE_REACTORS_H_
#define TAILOR_SERVER_SERVICE_REACTORS_H_

#include <memory>

#include "core/serialization.h"
#include "server/grpc_service.h"
#include "tailor/v1/coordinator.grpc.pb.h"

namespace tailor {

// A parked long poll. Whoever removes it from its client slot (under the service lock) owns
// the right to Finish it, so it is finished exactly once.
class CoordinatorService::WaitReactor : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(CoordinatorService* service, v1::Task* response)
      : service_(service), response_(response) {}
  void Answer(const v1::Task& task) {
    *response_ = task;
    Finish(grpc::Status::OK);
  }
  void OnCancel() override { service_->RemoveWaiter(this); }
  void OnDone() override { delete this; }

 private:
  CoordinatorService* service_;
  v1::Task* response_;
};

// Finishes a unary call at once with `status`.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, grpc::Status status);

// A model stream refused before its first chunk.
grpc::ServerWriteReactor<v1::ModelChunk>* RefusedModelStream(grpc::Status status);

// Streams `model` from `offset` in chunks of `chunk` bytes.
grpc::ServerWriteReactor<v1::ModelChunk>* NewModelStream(
    CoordinatorService* service, std::shared_ptr<const SerializedParameterSet> model,
    int64_t offset, size_t chunk);

// Reads one upload: header on the first chunk (checked with the service before any data is
// taken), then data decoded straight into tensors within the declared and configured size.
grpc::ServerReadReactor<v1::UpdateChunk>* NewUploadReader(CoordinatorService* service,
                                                          v1::UploadResponse* response);

}  // namespace tailor

#endif  // TAILOR_SERVER_SERVICE_REACTORS_H_
