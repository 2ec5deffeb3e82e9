#include "client/cli_args.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/bench_stats.h"
#include "client/cli_util.h"

namespace style {
namespace {

namespace v1 = ::styletransfer::v1;
using Args = std::vector<std::string>;

const std::vector<OptionSpec>& TestOptions() {
  static const auto* options = new std::vector<OptionSpec>{
      {"content", "FILE", "content image", ""},
      {"style", "FILE", "style images", "", true},
      {"alpha", "A", "trade-off", "1"},
      {"preserve-color", "", "keep colours", ""},
  };
  return *options;
}

const std::vector<OptionSpec>& TestGlobals() {
  static const auto* options = new std::vector<OptionSpec>{
      {"server", "HOST:PORT", "server", "localhost:50051"},
      {"retries", "N", "retries", "3"},
  };
  return *options;
}

TEST(ParseCommandArgsTest, AcceptsBothValueForms) {
  absl::StatusOr<ParsedArgs> parsed = ParseCommandArgs(
      TestOptions(), {"--content=a.jpg", "--alpha", "0.5", "--preserve-color"}, false);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Get("content"), "a.jpg");
  EXPECT_EQ(parsed->Get("alpha"), "0.5");
  EXPECT_TRUE(parsed->Has("preserve-color"));
  EXPECT_FALSE(parsed->Has("style"));
  EXPECT_EQ(parsed->Get("style", "none"), "none");
  EXPECT_FALSE(parsed->help());
}

TEST(ParseCommandArgsTest, ValuesMayLookLikeOptionsOrBeEmpty) {
  absl::StatusOr<ParsedArgs> parsed =
      ParseCommandArgs(TestOptions(), {"--alpha", "-1", "--content="}, false);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Get("alpha"), "-1");
  EXPECT_TRUE(parsed->Has("content"));
  EXPECT_EQ(parsed->Get("content"), "");
}

TEST(ParseCommandArgsTest, RejectsBadOptions) {
  for (const Args& args : std::vector<Args>{
           {"--nope"}, {"--nope=1"}, {"-x"}, {"--content"}, {"--preserve-color=yes"}}) {
    absl::StatusOr<ParsedArgs> parsed = ParseCommandArgs(TestOptions(), args, false);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << args[0];
  }
  EXPECT_TRUE(
      absl::StrContains(ParseCommandArgs(TestOptions(), {"--nope"}, false).status().message(),
                        "unknown option --nope"));
}

TEST(ParseCommandArgsTest, RepeatableOptionsJoinAndOthersOverride) {
  absl::StatusOr<ParsedArgs> parsed = ParseCommandArgs(
      TestOptions(), {"--style", "a.png", "--style=b.png,c.png", "--alpha=0.1", "--alpha=0.2"},
      false);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->GetList("style"), (Args{"a.png", "b.png", "c.png"}));
  EXPECT_EQ(parsed->Get("alpha"), "0.2");
}

TEST(ParseCommandArgsTest, PositionalsHelpAndDoubleDash) {
  absl::StatusOr<ParsedArgs> parsed =
      ParseCommandArgs(TestOptions(), {"x", "--alpha=1", "y", "--", "--content", "-"}, false);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->positionals(), (Args{"x", "y", "--content", "-"}));
  EXPECT_FALSE(parsed->Has("content"));

  for (const char* help : {"-h", "--help"}) {
    parsed = ParseCommandArgs(TestOptions(), {"--alpha=1", help, "--bogus"}, false);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(parsed->help());
  }
}

TEST(ParseCommandArgsTest, StopsAtFirstPositionalForSubcommands) {
  absl::StatusOr<ParsedArgs> parsed = ParseCommandArgs(
      TestGlobals(), {"--server", "h:1", "stylize", "--content", "c.jpg", "--retries=0"}, true);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Get("server"), "h:1");
  EXPECT_FALSE(parsed->Has("retries"));
  EXPECT_EQ(parsed->positionals(), (Args{"stylize", "--content", "c.jpg", "--retries=0"}));
}

TEST(ParseCommandTest, MergesGlobalOptionsAndChecksPositionals) {
  CommandSpec spec{
      "styles register", "FILE", "Registers.", {{"name", "NAME", "display name", ""}}, 1, 1};
  absl::StatusOr<ParsedArgs> parsed =
      ParseCommand(spec, TestGlobals(), {"style.jpg", "--name", "mosaic", "--retries", "0"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->positionals(), Args{"style.jpg"});
  EXPECT_EQ(parsed->Get("name"), "mosaic");
  EXPECT_EQ(parsed->Get("retries"), "0");

  EXPECT_EQ(ParseCommand(spec, TestGlobals(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCommand(spec, TestGlobals(), {"a", "b"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCommand(spec, TestGlobals(), {"a", "--content=x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  parsed = ParseCommand(spec, TestGlobals(), {"--help"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help());
}

TEST(ParsedArgsTest, NumbersAreCheckedAndBounded) {
  absl::StatusOr<ParsedArgs> parsed =
      ParseCommandArgs(TestOptions(), {"--alpha=0.25", "--content=12"}, false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_DOUBLE_EQ(*parsed->GetDouble("alpha", 1, 0, 1), 0.25);
  EXPECT_EQ(*parsed->GetInt("content", 0, 1, 100), 12);
  EXPECT_EQ(*parsed->GetInt("style", 7, 1, 100), 7);
  EXPECT_FALSE(parsed->GetInt("content", 0, 13, 100).ok());
  EXPECT_FALSE(parsed->GetInt("alpha", 0, 0, 100).ok());
  EXPECT_FALSE(parsed->GetDouble("alpha", 0, 0.5, 1).ok());
  parsed = ParseCommandArgs(TestOptions(), {"--alpha=nan"}, false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->GetDouble("alpha", 1, 0, 1).ok());
}

TEST(UsageTest, ListsEveryOptionWithDefaults) {
  CommandSpec spec{"stylize", "", "Stylizes.", TestOptions()};
  const std::string usage = CommandUsage("styletransfer", spec, TestGlobals());
  EXPECT_TRUE(absl::StartsWith(usage, "usage: styletransfer stylize [options]\n"));
  for (const char* text :
       {"--content FILE", "--style FILE", "--alpha A", "(default: 1)", "--preserve-color",
        "global options:", "--server HOST:PORT", "(default: localhost:50051)"}) {
    EXPECT_TRUE(absl::StrContains(usage, text)) << text << "\n" << usage;
  }
}

TEST(PercentileTest, NearestRank) {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  EXPECT_EQ(Percentile(values, 50), 50);
  EXPECT_EQ(Percentile(values, 90), 90);
  EXPECT_EQ(Percentile(values, 99), 99);
  EXPECT_EQ(Percentile(values, 100), 100);
  EXPECT_EQ(Percentile(values, 0), 1);
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({1, 2, 3, 4}, 50), 2);
  EXPECT_EQ(Percentile({1, 2, 3, 4}, 51), 3);
  EXPECT_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99), 10);
}

TEST(BenchStatsTest, SummarizesOkLatenciesAndCountsErrors) {
  std::vector<BenchSample> samples;
  for (int i = 1; i <= 10; ++i) {
    samples.push_back({static_cast<double>(i * 10), absl::StatusCode::kOk, 1.0, 5.0});
  }
  samples.push_back({1, absl::StatusCode::kResourceExhausted, 0, 0});
  samples.push_back({2, absl::StatusCode::kResourceExhausted, 0, 0});
  samples.push_back({3, absl::StatusCode::kUnavailable, 0, 0});
  const BenchSummary summary = Summarize(samples, 2.0, 4);
  EXPECT_EQ(summary.requests, 13);
  EXPECT_EQ(summary.ok, 10);
  EXPECT_EQ(summary.errors.at("RESOURCE_EXHAUSTED"), 2);
  EXPECT_EQ(summary.errors.at("UNAVAILABLE"), 1);
  EXPECT_DOUBLE_EQ(summary.throughput_rps, 6.5);
  EXPECT_DOUBLE_EQ(summary.ok_throughput_rps, 5);
  EXPECT_EQ(summary.p50_ms, 50);
  EXPECT_EQ(summary.p90_ms, 90);
  EXPECT_EQ(summary.p99_ms, 100);
  EXPECT_EQ(summary.max_ms, 100);
  EXPECT_DOUBLE_EQ(summary.mean_ms, 55);
  EXPECT_DOUBLE_EQ(summary.mean_queued_ms, 1);
  EXPECT_DOUBLE_EQ(summary.mean_compute_ms, 5);

  const std::string json = FormatBenchJson(summary);
  EXPECT_TRUE(absl::StrContains(json, "\"requests\": 13")) << json;
  EXPECT_TRUE(
      absl::StrContains(json, "\"errors\": {\"RESOURCE_EXHAUSTED\": 2, \"UNAVAILABLE\": 1}"))
      << json;
  EXPECT_TRUE(absl::StrContains(json, "\"p99\": 100.000")) << json;
  const std::string text = FormatBenchText(summary);
  EXPECT_TRUE(absl::StrContains(text, "errors      3 (RESOURCE_EXHAUSTED 2, UNAVAILABLE 1)"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "p50 50.0  p90 90.0  p99 100.0  max 100.0")) << text;
}

TEST(BenchStatsTest, EmptyRunIsAllZero) {
  const BenchSummary summary = Summarize({}, 0, 1);
  EXPECT_EQ(summary.requests, 0);
  EXPECT_EQ(summary.p99_ms, 0);
  EXPECT_TRUE(absl::StrContains(FormatBenchJson(summary), "\"errors\": {}"));
}

TEST(CliUtilTest, Formats) {
  EXPECT_EQ(FormatFromName("JPG"), v1::IMAGE_FORMAT_JPEG);
  EXPECT_EQ(FormatFromName("jpeg"), v1::IMAGE_FORMAT_JPEG);
  EXPECT_EQ(FormatFromName("webp"), v1::IMAGE_FORMAT_WEBP);
  EXPECT_EQ(FormatFromName("gif"), std::nullopt);
  EXPECT_EQ(FormatFromPath("out/x.PNG"), v1::IMAGE_FORMAT_PNG);
  EXPECT_EQ(FormatFromPath("x.jpeg"), v1::IMAGE_FORMAT_JPEG);
  EXPECT_EQ(FormatFromPath("x"), std::nullopt);
  EXPECT_EQ(FormatFromPath("x.tiff"), std::nullopt);
  EXPECT_EQ(ExtensionForFormat(v1::IMAGE_FORMAT_UNSPECIFIED), "jpg");
  EXPECT_EQ(ExtensionForFormat(v1::IMAGE_FORMAT_WEBP), "webp");
  EXPECT_TRUE(HasImageExtension("a/b.TIF"));
  EXPECT_FALSE(HasImageExtension("a/notes.txt"));
  EXPECT_EQ(BatchOutputName("in/cat.photo.jpg", "styles/wave.png", "webp"), "cat.photo__wave.webp");
  EXPECT_EQ(ProgressBar(12, 40, 3.14, 10), "[===>      ] 12/40  3.1 img/s");
  EXPECT_EQ(ProgressBar(0, 4, 0, 4), "[>   ] 0/4  0.0 img/s");
  EXPECT_EQ(ProgressBar(4, 4, 2, 4), "[====] 4/4  2.0 img/s");
}

TEST(CliUtilTest, FilesAndFolders) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cli_args_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "sub.png");
  ASSERT_TRUE(WriteFileBytes((dir / "b.png").string(), "bbb").ok());
  ASSERT_TRUE(WriteFileBytes((dir / "a.JPG").string(), std::string("a\0a", 3)).ok());
  ASSERT_TRUE(WriteFileBytes((dir / "notes.txt").string(), "n").ok());
  absl::StatusOr<std::vector<std::string>> files = ListImageFiles(dir.string());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (Args{(dir / "a.JPG").string(), (dir / "b.png").string()}));
  EXPECT_EQ(*ReadFileBytes((dir / "a.JPG").string()), std::string("a\0a", 3));
  EXPECT_EQ(ReadFileBytes((dir / "missing.png").string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ReadFileBytes(dir.string()).ok());
  EXPECT_FALSE(WriteFileBytes((dir / "no" / "such" / "x.png").string(), "x").ok());
  EXPECT_EQ(ListImageFiles((dir / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace style
