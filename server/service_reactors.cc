#include "server/service_reactors.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "proto/grpc_status.h"
#include "server/grpc_service.h"

namespace tailor {
namespace {

// Streams a published model from an offset in bounded chunks.
class FetchReactor : public grpc::ServerWriteReactor<v1::ModelChunk> {
 public:
  FetchReactor(CoordinatorService* service, std::shared_ptr<const SerializedParameterSet> model,
               int64_t offset, size_t chunk)
      : service_(service),
        model_(std::move(model)),
        offset_(static_cast<uint64_t>(offset)),
        chunk_(chunk) {
    NextWrite();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "model stream broken"));
      return;
    }
    NextWrite();
  }
  void OnDone() override { delete this; }

 private:
  void NextWrite() {
    if (offset_ >= model_->size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t n = std::min<uint64_t>(chunk_, model_->size() - offset_);
    message_.set_offset(static_cast<int64_t>(offset_));
    // Copied from the tensors themselves: the service holds no serialized copy of the model.
    std::string* data = message_.mutable_data();
    data->clear();
    model_->AppendRange(offset_, n, data);
    offset_ += n;
    service_->CountModelBytesSent(n);
    StartWrite(&message_);
  }
  CoordinatorService* service_;
  std::shared_ptr<const SerializedParameterSet> model_;
  uint64_t offset_;
  size_t chunk_;
  v1::ModelChunk message_;
};

// Decodes an update as its chunks arrive (straight into tensors: no reassembly buffer),
// enforcing the declared and the configured size. The sender is authenticated and the round
// checked on the first chunk, before any data is taken. A secure-aggregation message (a key
// advertisement, a reply) is kept as bytes instead, under the same limits.
class UploadReactor : public grpc::ServerReadReactor<v1::UpdateChunk> {
 public:
  UploadReactor(CoordinatorService* service, v1::UploadResponse* response)
      : service_(service), response_(response) {
    StartRead(&chunk_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    if (!started_) {
      session_ = chunk_.session();
      round_ = chunk_.round();
      weight_ = chunk_.weight();
      loss_ = chunk_.train_loss();
      within_clip_norm_ = chunk_.within_clip_norm();
      record_epsilon_ = chunk_.has_record_epsilon() ? chunk_.record_epsilon() : -1;
      total_ = chunk_.total_bytes();
      if (total_ < 0 || total_ > service_->max_upload_bytes()) {
        Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("upload declares ", total_, " bytes; the limit is ",
                                         service_->max_upload_bytes())));
        return;
      }
      content_ = chunk_.content();
      plain_bytes_ = chunk_.plain_bytes();
      if (!v1::UpdateChunk::Content_IsValid(content_)) {
        Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("unknown upload content ", content_)));
        return;
      }
      grpc::Status admitted = content_ == v1::UpdateChunk::SECAGG_REPLY
                                  ? service_->AdmitSecAggReply(session_, round_)
                                  : service_->AdmitUpload(session_, round_);
      if (!admitted.ok()) {
        Refuse(admitted);
        return;
      }
      started_ = true;
      if (content_ == v1::UpdateChunk::UPDATE) {
        decoder_ = std::make_unique<ParameterSetDecoder>(static_cast<uint64_t>(total_));
      }
    } else if ((!chunk_.session().empty() && chunk_.session() != session_) ||
               (chunk_.round() != 0 && chunk_.round() != round_) ||
               (chunk_.total_bytes() != 0 && chunk_.total_bytes() != total_)) {
      // The header is the first chunk's; a later chunk that says otherwise is not this upload.
      Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a chunk after the first names another session, round or size"));
      return;
    }
    if (static_cast<int64_t>(received_ + chunk_.data().size()) > total_) {
      Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("upload exceeds its declared ", total_, " bytes")));
      return;
    }
    received_ += chunk_.data().size();
    if (!decoder_) {
      bytes_ += chunk_.data();
      StartRead(&chunk_);
      return;
    }
    absl::Status decoded = decoder_->Append(chunk_.data());
    if (!decoded.ok()) {
      // Bad content (not framing): the round records the rejection like any other.
      Deliver(std::make_shared<absl::StatusOr<ParameterSet>>(decoded));
      return;
    }
    StartRead(&chunk_);
  }
  void OnDone() override { delete this; }

 private:
  void Refuse(grpc::Status status) {
    service_->CountRejectedUpload(status.error_code());
    // Sampled: an authenticated client repeating bad uploads must not flood the log.
    service_->log_sampler().Log(LogLevel::kWarn, "upload_refused",
                                {{"session", session_.substr(0, 8)},
                                 {"round", absl::StrCat(round_)},
                                 {"code", GrpcCodeName(status.error_code())},
                                 {"msg", status.error_message()}});
    Finish(std::move(status));
  }
  void Deliver(std::shared_ptr<absl::StatusOr<ParameterSet>> decoded) {
    UpdateUpload upload;
    upload.round = round_;
    upload.wire_bytes = static_cast<int64_t>(received_);
    if (content_ == v1::UpdateChunk::SECAGG_ADVERTISEMENT) {
      // Weight, loss and the privacy bits are in the masked input, not beside it.
      upload.secagg_advertisement = std::move(bytes_);
      upload.plain_bytes = plain_bytes_;
    } else {
      upload.weight = weight_;
      upload.stats.mean_loss = loss_;
      upload.within_clip_norm = within_clip_norm_;
      upload.record_epsilon = record_epsilon_;
      upload.decoded = std::move(decoded);
    }
    grpc::Status status = content_ == v1::UpdateChunk::SECAGG_REPLY
                              ? service_->AcceptSecAggReply(session_, round_, std::move(bytes_))
                              : service_->AcceptUpload(session_, std::move(upload));
    response_->set_accepted(status.ok());
    Finish(status);
  }
  void Complete() {
    if (!started_) {
      Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty upload stream"));
      return;
    }
    if (static_cast<int64_t>(received_) != total_) {
      Refuse(grpc::Status(
          grpc::StatusCode::DATA_LOSS,
          absl::StrCat("upload truncated: got ", received_, " of ", total_, " bytes")));
      return;
    }
    Deliver(decoder_ ? std::make_shared<absl::StatusOr<ParameterSet>>(decoder_->Finish())
                     : nullptr);
  }

  CoordinatorService* service_;
  v1::UploadResponse* response_;
  v1::UpdateChunk chunk_;
  bool started_ = false;  // the first chunk was admitted
  int content_ = v1::UpdateChunk::UPDATE;
  int64_t plain_bytes_ = 0;
  std::unique_ptr<ParameterSetDecoder> decoder_;  // an update's
  std::string bytes_;                             // a secure-aggregation message's
  std::string session_;
  int64_t round_ = 0;
  double weight_ = 0;
  double loss_ = 0;
  bool within_clip_norm_ = false;
  double record_epsilon_ = -1;
  int64_t total_ = 0;
  uint64_t received_ = 0;
};

class RefusedStream : public grpc::ServerWriteReactor<v1::ModelChunk> {
 public:
  explicit RefusedStream(grpc::Status s) { Finish(std::move(s)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

grpc::ServerWriteReactor<v1::ModelChunk>* RefusedModelStream(grpc::Status status) {
  return new RefusedStream(std::move(status));
}

grpc::ServerWriteReactor<v1::ModelChunk>* NewModelStream(
    CoordinatorService* service, std::shared_ptr<const SerializedParameterSet> model,
    int64_t offset, size_t chunk) {
  return new FetchReactor(service, std::move(model), offset, chunk);
}

grpc::ServerReadReactor<v1::UpdateChunk>* NewUploadReader(CoordinatorService* service,
                                                          v1::UploadResponse* response) {
  return new UploadReactor(service, response);
}

}  // namespace tailor
