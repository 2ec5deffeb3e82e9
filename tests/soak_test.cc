// The short soak (about 25 s) that ctest runs; scripts/soak.sh runs the long one. Memory must
// stay flat after the warm-up, latency must not drift, and no request may get a status code its
// kind never should.
#include <iostream>

#include <gtest/gtest.h>

#include "tests/soak.h"
#include "tests/test_support.h"

#ifndef STYLE_SERVER_BIN
#error "STYLE_SERVER_BIN must name the server binary"
#endif

namespace style::testing {
namespace {

TEST(SoakTest, ShortSoakKeepsMemoryFlatAndAnswersEveryRequestRight) {
  SoakOptions options;
  options.server_binary = STYLE_SERVER_BIN;
  options.model_dir = DefaultModelDir();
  options.out_dir = ::testing::TempDir() + "soak_test";
  options.duration = absl::Seconds(25);
  options.warmup_fraction = 0.4;
  options.clients = 3;
  auto report = RunSoak(options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::cout << report->Summary(options);
  EXPECT_EQ(report->unexpected, 0);
  EXPECT_GT(report->kinds["valid"].codes["OK"], 20);
  for (const char* kind : {"invalid", "deadline", "cancel", "registry"}) EXPECT_GT(report->kinds[kind].sent, 0) << kind;
  EXPECT_LT(report->rss_growth, 0.10);
  // Stable latency: the last third's p99 within twice the first's (the machine is shared, so
  // the bound is loose here; the long run's figures are in docs/reliability.md).
  EXPECT_LT(report->p99[2], 2.0 * report->p99[0] + 0.05);
  EXPECT_EQ(report->server_exit_code, 0);
}

}  // namespace
}  // namespace style::testing
