// The bodies of the two fuzz targets and their seed inputs, shared by the libFuzzer binaries
// (built with STYLE_FUZZ=ON), the seed corpus generator and fuzz_regression_test, which replays
// tests/fuzz/regressions/ and the seeds in every build. docs/reliability.md describes the runs.
#ifndef STYLE_TESTS_FUZZ_FUZZ_TARGETS_H_
#define STYLE_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/image_codec.h"

namespace style::fuzz {

// The limits fuzz_decode_image applies: the server's kinds of limits, smaller than its
// defaults so that every input runs in milliseconds (a limit's check is the same code at any
// value).
DecodeLimits FuzzDecodeLimits();

// Probes `data`, then decodes it as the service does (with no fit, and with a fit chosen from
// the input's length), checking what the codec promises: limits hold, refusals are
// INVALID_ARGUMENT (or RESOURCE_EXHAUSTED), the output has the size the header and the fit
// imply, and a decoded image encodes. Returns "" or what was broken; crashes are the
// sanitizers' to find.
std::string FuzzDecodeImage(std::string_view data);

// Parses `data` as a StylizeRequest (skipping what does not parse) and validates it against
// limits as the server's defaults and a registry holding one style (its id is
// FuzzRegisteredStyleId()), checking the invariants of an accepted request: a style source
// each, weights in [0, 1] summing to 1, alpha in [0, 1], quality in 1..100, a fit of
// 16..max_side or 0. Returns "" or what was broken.
std::string FuzzValidateRequest(std::string_view data);
std::string FuzzRegisteredStyleId();

// Seed inputs, name -> bytes: small valid JPEG, PNG, WebP, TIFF and GIF files in the layouts
// the codec handles (grey, alpha, palette, 16-bit, CMYK, orientation, tiles, animation, ...),
// and serialized requests covering each validation branch. Generated, never committed.
std::vector<std::pair<std::string, std::string>> DecodeImageSeeds();
std::vector<std::pair<std::string, std::string>> ValidateRequestSeeds();

}  // namespace style::fuzz

#endif  // STYLE_TESTS_FUZZ_FUZZ_TARGETS_H_
