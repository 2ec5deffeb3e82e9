// libFuzzer target: image bytes -> ProbeImage and DecodeImage with limits and a fit, as the
// service runs them (see FuzzDecodeImage). Built with STYLE_FUZZ=ON; run by scripts/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // One libvips worker thread: the fuzzer runs one input at a time anyway.
  return style::InitImageCodec(1).ok() ? 0 : 1;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = style::fuzz::FuzzDecodeImage(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!broken.empty()) {
    std::fprintf(stderr, "fuzz_decode_image: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
