// Helpers shared by the tests: where ../shared is, and images made in memory.
#ifndef STYLE_TESTS_TEST_SUPPORT_H_
#define STYLE_TESTS_TEST_SUPPORT_H_

#include <map>
#include <string>
#include <vips/vips8>

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

// A libvips image that owns a copy of `image`'s pixels. Throws vips::VError.
vips::VImage ToVips(const RgbImage& image);

// Saves with a libvips saver, e.g. ".png", ".tif[compression=lzw]". Throws vips::VError.
std::string SaveWithVips(const vips::VImage& image, const char* suffix);

// The built-in model of the checkout (models/default); fails the current test if it is missing.
std::string DefaultModelDir();

// The shared VGG19 weights converted (once per process, by tools/convert_weights.py) into the
// build folder; "" if the conversion failed. Call RequireShared first.
std::string ConvertedVggWeights();

// MakeTestPattern encoded as PNG; fails the current test (and returns "") if encoding fails.
std::string Png(int width, int height, unsigned seed = 1);

// A valid PNG whose IHDR claims `width` x `height` 8-bit RGB, with a token IDAT: a header
// that lies about the image's size.
std::string PngWithHeader(uint32_t width, uint32_t height);

// A plain HTTP/1.0 GET of http://127.0.0.1:`port``path`; returns the body, or "" and a test
// failure when the status is not 200.
std::string HttpGet(int port, const std::string& path);

// Parses the Prometheus text exposition format strictly: every sample line must be
// `name{label="value",...} number`, every family must have # HELP and # TYPE lines before its
// samples. Returns series (name plus labels exactly as written, e.g.
// `styletransfer_requests_total{code="OK",rpc="Stylize"}`) to value; fails the test on any
// malformed line.
std::map<std::string, double> ParsePrometheusText(const std::string& text);

}  // namespace style::testing

#endif  // STYLE_TESTS_TEST_SUPPORT_H_
