// libFuzzer target: bytes -> StylizeRequest -> ValidateStylizeRequest against a registry with
// one style (see FuzzValidateRequest). Built with STYLE_FUZZ=ON; run by scripts/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // libprotobuf logs an ERROR line for every string field with invalid UTF-8 it refuses to
  // parse: at tens of thousands of inputs a second that is all the output there would be.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = style::fuzz::FuzzValidateRequest(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!broken.empty()) {
    std::fprintf(stderr, "fuzz_validate_request: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
