// absl::Status <-> grpc::Status at the RPC edge. The canonical codes are numerically the same
// in Abseil and gRPC; the message travels unchanged.
#ifndef TAILOR_PROTO_GRPC_STATUS_H_
#define TAILOR_PROTO_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace tailor {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// "DATA_LOSS", "OK", ...: the canonical name of a gRPC code, for logs and metric labels.
inline std::string GrpcCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace tailor

#endif  // TAILOR_PROTO_GRPC_STATUS_H_
