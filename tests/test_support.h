// Helpers shared by the tests: where ../shared is, and images made in memory.
#ifndef STYLE_TESTS_TEST_SUPPORT_H_
#define STYLE_TESTS_TEST_SUPPORT_H_

#include <string>

#include "server/image_codec.h"

namespace style::testing {

// The shared/ folder (weights and images that the project never commits), from the
// STYLE_SHARED_DIR environment variable that ctest sets.
std::string SharedDir();

// True when `path` (relative to SharedDir()) exists. When it does not: under CI=true the
// current test fails; otherwise the caller should GTEST_SKIP().
bool RequireShared(const std::string& relative_path);

// Reads a whole file; fails the current test (and returns "") if it cannot.
std::string ReadFileOrDie(const std::string& path);

// A deterministic RGB test pattern (gradients plus a few shapes) of the given size.
RgbImage MakeTestPattern(int width, int height, unsigned seed = 1);

}  // namespace style::testing

#endif  // STYLE_TESTS_TEST_SUPPORT_H_
