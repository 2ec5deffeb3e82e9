// Small helpers for absl::Status, and the one place where it becomes grpc::Status.
//
// Debian's Abseil (20220623) has no RETURN_IF_ERROR / ASSIGN_OR_RETURN, so they live here.
#ifndef STYLE_SERVER_STATUS_UTIL_H_
#define STYLE_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STYLE_CONCAT_INNER_(a, b) a##b
#define STYLE_CONCAT_(a, b) STYLE_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status style_status_ = (expr);           \
    if (!style_status_.ok()) return style_status_;   \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())`: evaluates F() (an absl::StatusOr<T>), returns its status if
// it is not OK, otherwise moves its value into the declaration `lhs`.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(STYLE_CONCAT_(style_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

namespace style {

// Converts at the RPC edge. Messages longer than 1 KiB are truncated so that a hostile input
// cannot make the server echo megabytes back.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for the client library.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The canonical upper-case name of a code ("RESOURCE_EXHAUSTED"), as used in metric labels.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace style

#endif  // STYLE_SERVER_STATUS_UTIL_H_
