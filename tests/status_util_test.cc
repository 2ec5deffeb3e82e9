#include "server/status_util.h"

#include <string>

#include <gtest/gtest.h>

namespace style {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status Quarter(int x, int* out) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(*out, Half(half));
  return absl::OkStatus();
}

absl::Status FailsThrough(bool fail) {
  RETURN_IF_ERROR(fail ? absl::NotFoundError("nope") : absl::OkStatus());
  return absl::InternalError("reached the end");
}

TEST(StatusUtilTest, AssignOrReturnPropagatesErrorsAndValues) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(Quarter(6, &out).code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusUtilTest, ReturnIfErrorStopsOnlyOnError) {
  EXPECT_EQ(FailsThrough(true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FailsThrough(false).code(), absl::StatusCode::kInternal);
}

TEST(StatusUtilTest, GrpcConversionKeepsCodeAndTruncatesLongMessages) {
  grpc::Status s = ToGrpcStatus(absl::ResourceExhaustedError(std::string(5000, 'x')));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(s.error_message().size(), 1100u);
  EXPECT_EQ(FromGrpcStatus(s).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_STREQ(GrpcCodeName(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
}

}  // namespace
}  // namespace style
