// Replays every file in tests/fuzz/regressions/<target>/ (inputs that once broke a target) and
// every generated seed through the fuzz targets' bodies, in every build, so that a fixed crash
// stays fixed and the targets keep working without clang.
#include <cstdlib>
#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "tests/fuzz/fuzz_targets.h"
#include "tests/test_support.h"

namespace style::fuzz {
namespace {

namespace fs = std::filesystem;

// Runs `target` on each file under regressions/`name`; returns how many there were.
int Replay(const std::string& name, const std::function<std::string(std::string_view)>& target) {
  const char* source = std::getenv("STYLE_SOURCE_DIR");
  if (source == nullptr) {
    ADD_FAILURE() << "STYLE_SOURCE_DIR is not set (ctest sets it)";
    return 0;
  }
  const fs::path dir = fs::path(source) / "tests/fuzz/regressions" / name;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    ++files;
    EXPECT_EQ(target(testing::ReadFileOrDie(entry.path().string())), "") << entry.path();
  }
  return files;
}

TEST(FuzzRegressionTest, DecodeImageRegressions) {
  const int files = Replay("decode_image", FuzzDecodeImage);
  RecordProperty("files", files);
}

TEST(FuzzRegressionTest, ValidateRequestRegressions) {
  const int files = Replay("validate_request", FuzzValidateRequest);
  RecordProperty("files", files);
}

TEST(FuzzRegressionTest, DecodeImageSeedsDecodeCleanly) {
  const auto seeds = DecodeImageSeeds();
  EXPECT_GE(seeds.size(), 20u);
  for (const auto& [name, bytes] : seeds) {
    EXPECT_EQ(FuzzDecodeImage(bytes), "") << name;
    // Every seed is a valid image, so that the fuzzer starts deep in each decoder.
    EXPECT_TRUE(DecodeImage(bytes, FuzzDecodeLimits()).ok()) << name;
  }
}

TEST(FuzzRegressionTest, ValidateRequestSeedsRunCleanly) {
  const auto seeds = ValidateRequestSeeds();
  EXPECT_GE(seeds.size(), 5u);
  for (const auto& [name, bytes] : seeds) EXPECT_EQ(FuzzValidateRequest(bytes), "") << name;
}

}  // namespace
}  // namespace style::fuzz
