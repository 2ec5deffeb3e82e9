// Runs the styletransfer binary against an in-process fake server.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/fake_style_service.h"

#ifndef STYLETRANSFER_BIN
#error "STYLETRANSFER_BIN must name the CLI binary"
#endif

namespace style {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::styletransfer::v1;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void Spit(const fs::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest()
      : service_([this](int, const v1::StylizeRequest& request, v1::StylizeResponse* response) {
          return Answer(request, response);
        }),
        server_(&service_) {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("cli_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  ~CliTest() override { fs::remove_all(dir_); }

  // Runs the CLI with `args` (shell syntax), stdin closed, stdout and stderr captured.
  CliResult Run(const std::string& args) {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    const std::string command = absl::StrCat(STYLETRANSFER_BIN, " ", args, " >", out.string(),
                                             " 2>", err.string(), " </dev/null");
    const int status = std::system(command.c_str());
    CliResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = Slurp(out);
    result.err = Slurp(err);
    return result;
  }

  // The global option that points the CLI at the fake server.
  std::string Server() const { return absl::StrCat("--server ", server_.address()); }

  fs::path Path(const std::string& name) const { return dir_ / name; }

  std::string Write(const std::string& name, const std::string& data) {
    fs::create_directories(Path(name).parent_path());
    Spit(Path(name), data);
    return Path(name).string();
  }

  v1::StylizeRequest last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

  // Content "bad" is refused; anything else comes back as "IMG:<content>:<number of styles>".
  grpc::Status Answer(const v1::StylizeRequest& request, v1::StylizeResponse* response) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_request_ = request;
    }
    if (request.content() == "bad") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot decode content");
    }
    response->set_image(absl::StrCat("IMG:", request.content(), ":", request.styles_size()));
    response->set_width(3);
    response->set_height(2);
    response->mutable_timing()->set_queued_seconds(0.004);
    response->mutable_timing()->set_compute_seconds(0.012);
    return grpc::Status::OK;
  }

  std::mutex mu_;
  v1::StylizeRequest last_request_;
  fake::FakeStyleService service_;
  fake::FakeServer server_;
  fs::path dir_;
};

// An address where nothing listens (a server that has been shut down).
std::string DeadAddress() {
  fake::FakeStyleService service;
  fake::FakeServer server(&service);
  return server.address();
}

TEST_F(CliTest, UsageAndHelp) {
  CliResult result = Run("");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(result.err, "usage: styletransfer")) << result.err;
  EXPECT_TRUE(result.out.empty());

  result = Run("--help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(result.out, "exit codes:")) << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "bench")) << result.out;

  for (const char* command : {"stylize", "batch", "styles", "styles register", "styles list",
                              "styles delete", "health", "bench"}) {
    result = Run(absl::StrCat(command, " --help"));
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_TRUE(absl::StrContains(result.out, "usage: styletransfer")) << command;
  }
  result = Run("help bench");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* option :
       {"--content FILE", "--style FILE", "--style-id ID", "--concurrency N", "--duration SECONDS",
        "--requests N", "--size PX", "--format", "--register-style", "--json FILE|-", "--warmup N",
        "--server", "--timeout", "--retries", "(default: 4)", "(default: 2)"}) {
    EXPECT_TRUE(absl::StrContains(result.out, option)) << option << "\n" << result.out;
  }

  result = Run("frobnicate");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(result.err, "unknown command")) << result.err;
  result = Run("stylize --bogus 1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(result.err, "error: unknown option --bogus")) << result.err;
  EXPECT_EQ(Run("styles").exit_code, 2);
  EXPECT_EQ(Run("--retries=x health").exit_code, 2);
}

TEST_F(CliTest, StylizeWritesTheImageAndReports) {
  const std::string content = Write("in/c.jpg", "CONTENT");
  const std::string s1 = Write("in/s1.png", "S1");
  const std::string s2 = Write("in/s2.png", "S2");
  const std::string out = Path("out.png").string();
  const CliResult result =
      Run(absl::StrCat("stylize --content ", content, " --style=", s1, " --style ", s2,
                       " --style-id abc --weights 0.25,0.25,0.5 --alpha 0.5 --max-side 256 --out ",
                       out, " ", Server()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Slurp(out), "IMG:CONTENT:3");
  EXPECT_TRUE(std::regex_match(
      result.out, std::regex("wrote " + out +
                             R"( \(3x2, 13 bytes\) in \d+ ms \(queued 4 ms, compute 12 ms\)\n)")))
      << result.out;
  const v1::StylizeRequest request = last_request();
  ASSERT_EQ(request.styles_size(), 3);
  EXPECT_EQ(request.styles(0).image(), "S1");
  EXPECT_EQ(request.styles(1).image(), "S2");
  EXPECT_EQ(request.styles(2).style_id(), "abc");
  EXPECT_FLOAT_EQ(request.styles(2).weight(), 0.5f);
  EXPECT_FLOAT_EQ(request.alpha(), 0.5f);
  EXPECT_EQ(request.output().format(), v1::IMAGE_FORMAT_PNG);
  EXPECT_EQ(request.size().mode(), v1::SizePolicy::FIT);
  EXPECT_EQ(request.size().max_side(), 256u);
  EXPECT_FALSE(request.preserve_color());

  ASSERT_EQ(Run(absl::StrCat(Server(), " stylize --content ", content, " --style-id abc ",
                             "--preserve-color --format webp --quality 70 --out ",
                             Path("noext").string()))
                .exit_code,
            0);
  EXPECT_EQ(last_request().output().format(), v1::IMAGE_FORMAT_WEBP);
  EXPECT_EQ(last_request().output().quality(), 70u);
  EXPECT_EQ(last_request().size().mode(), v1::SizePolicy::KEEP);
  EXPECT_TRUE(last_request().preserve_color());
  EXPECT_FALSE(last_request().has_alpha());
}

TEST_F(CliTest, StylizeExitCodes) {
  const std::string content = Write("c.jpg", "CONTENT");
  const std::string bad = Write("bad.jpg", "bad");
  const std::string out = Path("out.jpg").string();
  const std::string style = " --style-id s --out " + out;

  CliResult result = Run(absl::StrCat(Server(), " stylize --content ", bad, style));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: INVALID_ARGUMENT: cannot decode content\n");

  result = Run(absl::StrCat(Server(), " stylize --content ", Path("missing.jpg").string(), style));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(absl::StrContains(result.err, "missing.jpg")) << result.err;

  result = Run(absl::StrCat(Server(), " stylize --content ", content, " --style-id s --out ",
                            Path("no/such/dir/out.jpg").string()));
  EXPECT_EQ(result.exit_code, 3);

  result = Run(absl::StrCat("--server ", DeadAddress(), " --retries 1 --timeout 5 stylize ",
                            "--content ", content, style));
  EXPECT_EQ(result.exit_code, 4);
  EXPECT_TRUE(absl::StartsWith(result.err, "error: UNAVAILABLE: ")) << result.err;

  EXPECT_EQ(Run(absl::StrCat(Server(), " stylize --content ", content, " --style-id s --out ",
                             Path("out.xyz").string()))
                .exit_code,
            2);
  EXPECT_EQ(Run(absl::StrCat(Server(), " stylize --content ", content,
                             " --style-id a,b --weights 1 --out ", out))
                .exit_code,
            2);
  EXPECT_EQ(Run(absl::StrCat(Server(), " stylize --content ", content, " --out ", out)).exit_code,
            2);
  EXPECT_EQ(
      Run(absl::StrCat(Server(), " stylize --content ", content, style, " --alpha 2")).exit_code,
      2);
  EXPECT_EQ(
      Run(absl::StrCat(Server(), " stylize --content ", content, style, " --format bmp")).exit_code,
      2);
  EXPECT_EQ(service_.stylize_calls(), 1);
}

TEST_F(CliTest, BatchStylizesEveryPairAndContinuesPastErrors) {
  Write("content/a.jpg", "A");
  Write("content/bad.jpg", "bad");
  Write("content/readme.txt", "not an image");
  Write("styles/x.png", "X");
  Write("styles/y.webp", "Y");
  const std::string dirs =
      absl::StrCat(" --content-dir ", Path("content").string(), " --style-dir ",
                   Path("styles").string(), " --out-dir ", Path("out").string());
  CliResult result = Run(absl::StrCat(Server(), " batch", dirs, " --format png --concurrency 3"));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(Slurp(Path("out/a__x.png")), "IMG:A:1");
  EXPECT_EQ(Slurp(Path("out/a__y.png")), "IMG:A:1");
  EXPECT_FALSE(fs::exists(Path("out/bad__x.png")));
  EXPECT_TRUE(absl::StrContains(result.err, "error: bad.jpg x x.png: INVALID_ARGUMENT: "))
      << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "4/4 (100%)")) << result.err;
  EXPECT_TRUE(absl::StartsWith(result.out, "batch: 2 of 4 succeeded, 2 failed")) << result.out;
  EXPECT_EQ(service_.stylize_calls(), 4);

  fs::remove(Path("content/bad.jpg"));
  result = Run(absl::StrCat(Server(), " batch", dirs));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(Path("out/a__y.jpg")));

  EXPECT_EQ(
      Run(absl::StrCat(Server(), " batch --content-dir ", Path("nope").string(), " --style-dir ",
                       Path("styles").string(), " --out-dir ", Path("out").string()))
          .exit_code,
      3);
}

TEST_F(CliTest, StylesCommands) {
  CliResult result =
      Run(absl::StrCat(Server(), " styles register ", Write("s.png", "1234567"), " --name mosaic"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "id-7\n");

  result = Run(absl::StrCat(Server(), " styles list"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StartsWith(result.out, "ID  NAME  SIZE  CREATED")) << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "\na   -     0x0   1970-01-01 00:00:00\n"))
      << result.out;

  result = Run(absl::StrCat(Server(), " styles delete a"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "deleted a\n");
  result = Run(absl::StrCat(Server(), " styles delete zzz"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: NOT_FOUND: no style zzz\n");

  EXPECT_EQ(Run(absl::StrCat(Server(), " styles delete")).exit_code, 2);
  EXPECT_EQ(Run(absl::StrCat(Server(), " styles register ", Path("none.png").string())).exit_code,
            3);
}

TEST_F(CliTest, HealthForContainerChecks) {
  CliResult result = Run(absl::StrCat(Server(), " health"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "SERVING\n");
  EXPECT_EQ(Run(absl::StrCat("health --service no.such.Service ", Server())).exit_code, 1);
  EXPECT_EQ(Run(absl::StrCat("health --retries 0 --server ", DeadAddress())).exit_code, 4);
}

TEST_F(CliTest, BenchByCountWritesJson) {
  const std::string content = Write("c.jpg", "C");
  const std::string style = Write("s.jpg", "S");
  CliResult result =
      Run(absl::StrCat(Server(), " bench --content ", content, " --style ", style,
                       " --requests 20 --concurrency 3 --warmup 1 --size 64 --json -"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StartsWith(result.out, "{\"requests\": 20, \"ok\": 20, \"errors\": {}"))
      << result.out;
  EXPECT_TRUE(absl::StrContains(result.err, "throughput")) << result.err;
  EXPECT_EQ(service_.stylize_calls(), 21);
  EXPECT_EQ(last_request().size().max_side(), 64u);
  EXPECT_EQ(last_request().styles(0).image(), "S");

  const std::string json = Path("bench.json").string();
  result = Run(absl::StrCat(Server(), " bench --content ", content, " --style ", style,
                            " --register-style --duration 0.3 --warmup 0 --json ", json));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "latency ms  p50")) << result.out;
  EXPECT_TRUE(absl::StrContains(Slurp(json), "\"latency_ms\": {\"p50\": ")) << Slurp(json);
  EXPECT_EQ(last_request().styles(0).style_id(), "id-1");

  EXPECT_EQ(
      Run(absl::StrCat(Server(), " bench --content ", content, " --style ", style, " --style-id x"))
          .exit_code,
      2);
  EXPECT_EQ(Run(absl::StrCat(Server(), " bench --content ", content, " --style ", style,
                             " --requests 5 --duration 1"))
                .exit_code,
            2);
}

TEST_F(CliTest, BenchReportsFailureWhenNothingSucceeds) {
  const std::string bad = Write("bad.jpg", "bad");
  const CliResult result = Run(
      absl::StrCat(Server(), " bench --content ", bad, " --style-id s --requests 4 --warmup 0"));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "errors      4 (INVALID_ARGUMENT 4)")) << result.out;
}

}  // namespace
}  // namespace style
