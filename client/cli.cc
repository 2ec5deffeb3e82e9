// styletransfer: the command-line client of the style-transfer service.
#include <unistd.h>

#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench_stats.h"
#include "client/cli_args.h"
#include "client/cli_util.h"
#include "client/client.h"
#include "server/status_util.h"

namespace style {
namespace {

namespace v1 = ::styletransfer::v1;

constexpr char kProgram[] = "styletransfer";

enum ExitCode : int {
  kExitOk = 0,
  kExitServerError = 1,
  kExitUsage = 2,
  kExitIo = 3,
  kExitUnreachable = 4,
};

constexpr char kExitCodesHelp[] =
    "exit codes:\n"
    "  0  success\n"
    "  1  the server returned an error (printed as \"error: CODE: message\")\n"
    "  2  usage error (unknown option, bad value, missing argument)\n"
    "  3  local I/O error (cannot read or write a file)\n"
    "  4  server unreachable (UNAVAILABLE or DEADLINE_EXCEEDED after all retries)\n";

// ---- Command specifications ---------------------------------------------------------------

const std::vector<OptionSpec>& GlobalOptions() {
  static const auto* options = new std::vector<OptionSpec>{
      {"server", "HOST:PORT[,...]",
       "server address; a comma-separated list is balanced round robin", "localhost:50051"},
      {"timeout", "SECONDS", "time limit of each request, retries included", "60"},
      {"retries", "N", "retries on UNAVAILABLE and RESOURCE_EXHAUSTED, with backoff", "3"},
      {"tls", "", "connect with TLS (implied by the other --tls-* options)", "plaintext"},
      {"tls-ca", "FILE", "PEM CA bundle that signed the server's certificate", "the system's roots"},
      {"tls-cert", "FILE", "PEM client certificate for mutual TLS (with --tls-key)", ""},
      {"tls-key", "FILE", "PEM private key of --tls-cert", ""},
      {"tls-server-name", "NAME", "the name the server's certificate must hold",
       "the host of --server"},
      {"token-file", "FILE", "file with a bearer token sent with every call",
       "$STYLETRANSFER_TOKEN"},
  };
  return *options;
}

// The options that shape a stylization, shared by stylize, batch and bench.
std::vector<OptionSpec> TransferOptions(const std::string& format_default) {
  return {
      {"alpha", "A", "content-style trade-off in [0, 1]; 0 keeps the content", "1"},
      {"preserve-color", "", "keep the content's colours (needs style images, not ids)", ""},
      {"format", "jpeg|png|webp", "output format", format_default},
      {"quality", "Q", "JPEG/WebP quality 1..100", "server default, 90"},
  };
}

// --max-side of stylize and batch (bench's --size is the same policy under its own name).
OptionSpec MaxSideOption() {
  return {"max-side", "N", "shrink so that the longer side is at most N (FIT)", "keep the content's size"};
}

std::vector<OptionSpec> Concat(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

CommandSpec StylizeSpec() {
  return {"stylize", "",
          "Stylizes one content image and writes the result; prints\n"
          "\"wrote OUT (WxH, N bytes) in X ms (queued Y ms, compute Z ms)\".",
          Concat(
              {
                  {"content", "FILE", "the content image (required)", ""},
                  {"style", "FILE[,FILE...]", "style image(s); may be repeated", "", true},
                  {"style-id", "ID[,ID...]", "registered style id(s); may be repeated", "", true},
                  {"weights", "W[,W...]",
                   "one weight per style (the --style files first, then the --style-id ids), "
                   "adding up to 1",
                   "equal shares"},
                  MaxSideOption(),
                  {"out", "FILE", "where to write the result (required)", ""},
              },
              TransferOptions("from the --out extension, else jpeg"))};
}

CommandSpec BatchSpec() {
  return {"batch", "",
          "Stylizes every content x style pair of two folders (image files, sorted by name)\n"
          "into OUT-DIR/<content-stem>__<style-stem>.<ext>. Failed pairs are reported and\n"
          "skipped; the exit code is 0 only when every pair succeeded.",
          Concat(
              {
                  {"content-dir", "DIR", "folder of content images (required)", ""},
                  {"style-dir", "DIR", "folder of style images (required)", ""},
                  {"out-dir", "DIR", "output folder, created if missing (required)", ""},
                  {"concurrency", "N", "requests in flight", "4"},
                  MaxSideOption(),
              },
              TransferOptions("jpeg"))};
}

CommandSpec StylesRegisterSpec() {
  return {"styles register",
          "FILE",
          "Registers a style image and prints its id (the same image always gets the same id).",
          {{"name", "NAME", "display name", "none"}},
          1,
          1};
}

CommandSpec StylesListSpec() {
  return {"styles list", "", "Lists the registered styles: id, name, size, created (UTC).", {}};
}

CommandSpec StylesDeleteSpec() {
  return {"styles delete", "ID", "Deletes a registered style.", {}, 1, 1};
}

CommandSpec HealthSpec() {
  return {"health",
          "",
          "Asks the server's health service and prints SERVING, NOT_SERVING, ...; the exit\n"
          "code is 0 only for SERVING, so it works as a container health check.",
          {{"service", "NAME", "the service to ask about", "the whole server"}}};
}

CommandSpec BenchSpec() {
  return {"bench", "",
          "Load-tests the server: N workers send requests back to back, then it prints\n"
          "requests, ok, errors by code, throughput, client-measured latency p50/p90/p99/max\n"
          "of the successful requests and the mean server-side queue and compute times.\n"
          "The content image is sent as is; --size makes the server shrink it (FIT policy).\n"
          "Retries (--retries) count inside one request; use --retries 0 to see rejections.",
          Concat(
              {
                  {"content", "FILE", "the content image (required)", ""},
                  {"style", "FILE", "the style image (this or --style-id)", ""},
                  {"style-id", "ID", "a registered style id (this or --style)", ""},
                  {"register-style", "", "register --style first and send its id", ""},
                  {"concurrency", "N", "workers, each with one request in flight", "4"},
                  {"duration", "SECONDS", "run for this long", "10 unless --requests"},
                  {"requests", "N", "send this many requests instead", ""},
                  {"size", "PX", "FIT policy with max_side PX", "keep the content's size"},
                  {"warmup", "N", "requests sent one at a time before measuring", "2"},
                  {"json", "FILE|-", "also write the results as JSON (- = stdout)", ""},
              },
              TransferOptions("jpeg"))};
}

std::string ProgramUsage() {
  return absl::StrCat("usage: ", kProgram, " [global options] COMMAND [options] [ARGS]\n\n",
                      "The command-line client of the style-transfer service.\n\n"
                      "commands:\n"
                      "  stylize          stylize one content image\n"
                      "  batch            stylize every content x style pair of two folders\n"
                      "  styles register  register a style image and print its id\n"
                      "  styles list      list the registered styles\n"
                      "  styles delete    delete a registered style\n"
                      "  health           print the server's health status\n"
                      "  bench            load-test the server\n\n"
                      "global options (valid before or after any command):\n",
                      OptionsHelp(GlobalOptions()), "\nRun '", kProgram,
                      " COMMAND --help' for the options of a command.\n\n", kExitCodesHelp);
}

std::string StylesUsage() {
  return absl::StrCat("usage: ", kProgram,
                      " styles register|list|delete [options] [ARGS]\n\n"
                      "  styles register FILE [--name NAME]  register a style, print its id\n"
                      "  styles list                         list the registered styles\n"
                      "  styles delete ID                    delete a registered style\n\n"
                      "Run '",
                      kProgram, " styles COMMAND --help' for details.\n\n", kExitCodesHelp);
}

std::string FullUsage(const CommandSpec& spec) {
  return absl::StrCat(CommandUsage(kProgram, spec, GlobalOptions()), "\n", kExitCodesHelp);
}

// ---- Error reporting -----------------------------------------------------------------------

int UsageError(const std::string& command, absl::string_view message) {
  std::cerr << "error: " << message << "\nrun '" << kProgram << (command.empty() ? "" : " ")
            << command << " --help' for usage\n";
  return kExitUsage;
}

int IoError(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  return kExitIo;
}

bool IsUnreachable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
}

std::string ServerErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

int ServerError(const absl::Status& status) {
  std::cerr << "error: " << ServerErrorText(status) << "\n";
  return IsUnreachable(status.code()) ? kExitUnreachable : kExitServerError;
}

// ---- Shared helpers ------------------------------------------------------------------------

double MillisSince(absl::Time start) { return absl::ToDoubleMilliseconds(absl::Now() - start); }

// Reads a PEM or token file named by option `name`; INVALID_ARGUMENT naming the option.
absl::StatusOr<std::string> ReadOptionFile(const ParsedArgs& args, const std::string& name) {
  absl::StatusOr<std::string> data = ReadFileBytes(args.Get(name));
  if (!data.ok()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", data.status().message()));
  return data;
}

// TLS credentials and the bearer token from --tls*, --token-file and $STYLETRANSFER_TOKEN.
absl::Status ApplySecurityOptions(const ParsedArgs& args, ClientOptions* options) {
  if (args.Has("tls-cert") != args.Has("tls-key")) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  const bool tls = args.Has("tls") || args.Has("tls-ca") || args.Has("tls-cert") || args.Has("tls-server-name");
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (args.Has("tls-ca")) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadOptionFile(args, "tls-ca"));
    }
    if (args.Has("tls-cert")) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadOptionFile(args, "tls-cert"));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadOptionFile(args, "tls-key"));
    }
    options->credentials = grpc::SslCredentials(ssl);
    options->tls_server_name = args.Get("tls-server-name");
  }
  std::string token;
  if (args.Has("token-file")) {
    ASSIGN_OR_RETURN(token, ReadOptionFile(args, "token-file"));
  } else if (const char* env = std::getenv("STYLETRANSFER_TOKEN"); env != nullptr) {
    token = env;
  }
  options->bearer_token = std::string(absl::StripAsciiWhitespace(token));
  return absl::OkStatus();
}

// The client for the global options. INVALID_ARGUMENT on bad values.
absl::StatusOr<std::unique_ptr<StyleClient>> MakeClient(const ParsedArgs& args) {
  ClientOptions options;
  options.addresses = absl::StrSplit(args.Get("server", "localhost:50051"), ',', absl::SkipEmpty());
  absl::StatusOr<double> timeout = args.GetDouble("timeout", 60, 0.001, 1e7);
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<int64_t> retries = args.GetInt("retries", 3, 0, 99);
  if (!retries.ok()) return retries.status();
  options.deadline = absl::Seconds(*timeout);
  options.overall_deadline = absl::Seconds(*timeout);
  options.max_attempts = static_cast<int>(*retries) + 1;
  if (absl::Status s = ApplySecurityOptions(args, &options); !s.ok()) return s;
  return StyleClient::Create(options);
}

// Sets alpha, colour preservation, output format and quality, and the size policy (from the
// option `size_option`) of `request`. `format_default` applies when --format is not given.
absl::Status ApplyTransferOptions(const ParsedArgs& args, v1::ImageFormat format_default,
                                  const std::string& size_option, v1::StylizeRequest* request) {
  if (args.Has("alpha")) {
    absl::StatusOr<double> alpha = args.GetDouble("alpha", 1, 0, 1);
    if (!alpha.ok()) return alpha.status();
    request->set_alpha(static_cast<float>(*alpha));
  }
  request->set_preserve_color(args.Has("preserve-color"));
  v1::ImageFormat format = format_default;
  if (args.Has("format")) {
    std::optional<v1::ImageFormat> named = FormatFromName(args.Get("format"));
    if (!named) {
      return absl::InvalidArgumentError(
          absl::StrCat("--format: \"", args.Get("format"), "\" is not jpeg, png or webp"));
    }
    format = *named;
  }
  request->mutable_output()->set_format(format);
  absl::StatusOr<int64_t> quality = args.GetInt("quality", 0, 1, 100);
  if (!quality.ok()) return quality.status();
  request->mutable_output()->set_quality(static_cast<uint32_t>(*quality));
  if (args.Has(size_option)) {
    absl::StatusOr<int64_t> max_side = args.GetInt(size_option, 0, 1, 1 << 20);
    if (!max_side.ok()) return max_side.status();
    request->mutable_size()->set_mode(v1::SizePolicy::FIT);
    request->mutable_size()->set_max_side(static_cast<uint32_t>(*max_side));
  } else {
    request->mutable_size()->set_mode(v1::SizePolicy::KEEP);
  }
  return absl::OkStatus();
}

// Checks that the options in `names` were all given.
absl::Status RequireOptions(const ParsedArgs& args, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (!args.Has(name) || args.Get(name).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
    }
  }
  return absl::OkStatus();
}

// Fails early, before a long request, when the folder of `path` does not exist.
absl::Status CheckOutputDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code error;
  if (parent.empty() || std::filesystem::is_directory(parent, error)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("cannot write ", path, ": no folder ", parent.string()));
}

std::string FormatResult(const std::string& out, const v1::StylizeResponse& response,
                         double elapsed_ms) {
  return absl::StrFormat("wrote %s (%dx%d, %d bytes) in %.0f ms (queued %.0f ms, compute %.0f ms)",
                         out, response.width(), response.height(), response.image().size(),
                         elapsed_ms, response.timing().queued_seconds() * 1000,
                         response.timing().compute_seconds() * 1000);
}

// ---- stylize -------------------------------------------------------------------------------

int RunStylize(const ParsedArgs& args) {
  const std::string command = "stylize";
  if (absl::Status s = RequireOptions(args, {"content", "out"}); !s.ok()) {
    return UsageError(command, s.message());
  }
  const std::vector<std::string> style_files = args.GetList("style");
  const std::vector<std::string> style_ids = args.GetList("style-id");
  if (style_files.empty() && style_ids.empty()) {
    return UsageError(command, "give at least one --style FILE or --style-id ID");
  }
  std::vector<float> weights;
  for (const std::string& text : args.GetList("weights")) {
    float weight = 0;
    if (!absl::SimpleAtof(text, &weight)) {
      return UsageError(command, absl::StrCat("--weights: \"", text, "\" is not a number"));
    }
    weights.push_back(weight);
  }
  if (!weights.empty() && weights.size() != style_files.size() + style_ids.size()) {
    return UsageError(command, absl::StrCat("--weights has ", weights.size(), " values for ",
                                            style_files.size() + style_ids.size(), " styles"));
  }
  const std::string out = args.Get("out");
  const std::optional<v1::ImageFormat> inferred = FormatFromPath(out);
  if (!inferred && !args.Has("format")) {
    return UsageError(command, absl::StrCat("cannot tell the output format from \"", out,
                                            "\"; use a .jpg/.png/.webp name or --format"));
  }
  v1::StylizeRequest request;
  if (absl::Status s = ApplyTransferOptions(args, inferred.value_or(v1::IMAGE_FORMAT_JPEG),
                                            "max-side", &request);
      !s.ok()) {
    return UsageError(command, s.message());
  }
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError(command, client.status().message());
  if (absl::Status s = CheckOutputDirectory(out); !s.ok()) return IoError(s);

  absl::StatusOr<std::string> content = ReadFileBytes(args.Get("content"));
  if (!content.ok()) return IoError(content.status());
  request.set_content(*std::move(content));
  for (const std::string& file : style_files) {
    absl::StatusOr<std::string> image = ReadFileBytes(file);
    if (!image.ok()) return IoError(image.status());
    request.add_styles()->set_image(*std::move(image));
  }
  for (const std::string& id : style_ids) request.add_styles()->set_style_id(id);
  for (size_t i = 0; i < weights.size(); ++i)
    request.mutable_styles(static_cast<int>(i))->set_weight(weights[i]);

  const absl::Time start = absl::Now();
  absl::StatusOr<v1::StylizeResponse> response = (*client)->Stylize(request);
  const double elapsed_ms = MillisSince(start);
  if (!response.ok()) return ServerError(response.status());
  if (absl::Status s = WriteFileBytes(out, response->image()); !s.ok()) return IoError(s);
  std::cout << FormatResult(out, *response, elapsed_ms) << "\n";
  return kExitOk;
}

// ---- batch ---------------------------------------------------------------------------------

// Progress of a batch on stderr: a bar redrawn in place on a terminal, otherwise a line per 10%.
// Thread-safe.
class BatchProgress {
 public:
  explicit BatchProgress(int64_t total)
      : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(absl::Now()) {}

  // Records one finished pair; `error` (if non-empty) is printed on its own line.
  void Finish(bool ok, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (!ok) ++failed_;
    if (!error.empty()) std::cerr << (tty_ ? "\r\033[K" : "") << "error: " << error << "\n";
    if (tty_) {
      std::cerr << "\r" << ProgressBar(done_, total_, Rate()) << std::flush;
      if (done_ == total_) std::cerr << "\n";
    } else if (done_ * 10 / total_ > last_decile_) {
      last_decile_ = done_ * 10 / total_;
      std::cerr << absl::StrFormat("%d/%d (%d%%)  %.1f img/s\n", done_, total_,
                                   done_ * 100 / total_, Rate());
    }
  }

  int64_t failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  double Seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }
  double Rate() const {
    const double seconds = Seconds();
    return seconds > 0 ? static_cast<double>(done_) / seconds : 0;
  }

 private:
  mutable std::mutex mu_;
  const int64_t total_;
  const bool tty_;
  const absl::Time start_;
  int64_t done_ = 0;
  int64_t failed_ = 0;
  int64_t last_decile_ = 0;
};

struct BatchJob {
  const StyleClient* client;
  const v1::StylizeRequest* request_template;
  std::vector<std::string> contents;
  std::vector<std::string> style_paths;
  std::vector<std::string> style_images;
  std::string out_dir;
  std::string extension;
};

// Stylizes pair `index` (content-major); returns "" or an error line.
std::string RunBatchPair(const BatchJob& job, size_t index) {
  const std::string& content_path = job.contents[index / job.style_paths.size()];
  const size_t style = index % job.style_paths.size();
  const std::string pair =
      absl::StrCat(std::filesystem::path(content_path).filename().string(), " x ",
                   std::filesystem::path(job.style_paths[style]).filename().string());
  absl::StatusOr<std::string> content = ReadFileBytes(content_path);
  if (!content.ok()) return absl::StrCat(pair, ": ", content.status().message());
  v1::StylizeRequest request = *job.request_template;
  request.set_content(*std::move(content));
  request.add_styles()->set_image(job.style_images[style]);
  absl::StatusOr<v1::StylizeResponse> response = job.client->Stylize(request);
  if (!response.ok()) return absl::StrCat(pair, ": ", ServerErrorText(response.status()));
  const std::string out = (std::filesystem::path(job.out_dir) /
                           BatchOutputName(content_path, job.style_paths[style], job.extension))
                              .string();
  if (absl::Status s = WriteFileBytes(out, response->image()); !s.ok()) {
    return absl::StrCat(pair, ": ", s.message());
  }
  return "";
}

int RunBatch(const ParsedArgs& args) {
  const std::string command = "batch";
  if (absl::Status s = RequireOptions(args, {"content-dir", "style-dir", "out-dir"}); !s.ok()) {
    return UsageError(command, s.message());
  }
  absl::StatusOr<int64_t> concurrency = args.GetInt("concurrency", 4, 1, 1024);
  if (!concurrency.ok()) return UsageError(command, concurrency.status().message());
  v1::StylizeRequest request_template;
  if (absl::Status s =
          ApplyTransferOptions(args, v1::IMAGE_FORMAT_JPEG, "max-side", &request_template);
      !s.ok()) {
    return UsageError(command, s.message());
  }
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError(command, client.status().message());

  BatchJob job;
  job.client = client->get();
  job.request_template = &request_template;
  job.out_dir = args.Get("out-dir");
  job.extension = ExtensionForFormat(request_template.output().format());
  absl::StatusOr<std::vector<std::string>> contents = ListImageFiles(args.Get("content-dir"));
  if (!contents.ok()) return IoError(contents.status());
  absl::StatusOr<std::vector<std::string>> styles = ListImageFiles(args.Get("style-dir"));
  if (!styles.ok()) return IoError(styles.status());
  if (contents->empty() || styles->empty()) {
    return IoError(absl::NotFoundError(absl::StrCat(
        "no images in ", contents->empty() ? args.Get("content-dir") : args.Get("style-dir"))));
  }
  job.contents = *std::move(contents);
  job.style_paths = *std::move(styles);
  for (const std::string& path : job.style_paths) {
    absl::StatusOr<std::string> image = ReadFileBytes(path);
    if (!image.ok()) return IoError(image.status());
    job.style_images.push_back(*std::move(image));
  }
  std::error_code error;
  std::filesystem::create_directories(job.out_dir, error);
  if (error) {
    return IoError(
        absl::InternalError(absl::StrCat("cannot create ", job.out_dir, ": ", error.message())));
  }

  const size_t total = job.contents.size() * job.style_paths.size();
  BatchProgress progress(static_cast<int64_t>(total));
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  const size_t worker_count = std::min(total, static_cast<size_t>(*concurrency));
  for (size_t w = 0; w < worker_count; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
        const std::string failure = RunBatchPair(job, i);
        progress.Finish(failure.empty(), failure);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();

  const int64_t failed = progress.failed();
  std::cout << absl::StrFormat("batch: %d of %d succeeded, %d failed, in %.1f s (%.1f img/s)\n",
                               static_cast<int64_t>(total) - failed, total, failed,
                               progress.Seconds(), progress.Rate());
  return failed == 0 ? kExitOk : kExitServerError;
}

// ---- styles --------------------------------------------------------------------------------

int RunStylesRegister(const ParsedArgs& args) {
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError("styles register", client.status().message());
  absl::StatusOr<std::string> image = ReadFileBytes(args.positionals()[0]);
  if (!image.ok()) return IoError(image.status());
  absl::StatusOr<v1::RegisterStyleResponse> response =
      (*client)->RegisterStyle(*std::move(image), args.Get("name"));
  if (!response.ok()) return ServerError(response.status());
  std::cout << response->style().style_id() << "\n";
  if (response->already_registered()) std::cerr << "(already registered)\n";
  return kExitOk;
}

std::string FormatStyleTable(const std::vector<v1::StyleInfo>& styles) {
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "SIZE", "CREATED"}};
  for (const v1::StyleInfo& style : styles) {
    rows.push_back(
        {style.style_id(), style.name().empty() ? "-" : style.name(),
         absl::StrCat(style.width(), "x", style.height()),
         absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(style.created_unix_seconds()),
                          absl::UTCTimeZone())});
  }
  std::vector<size_t> widths(4, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string text;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&text, row[c]);
      if (c + 1 < row.size()) text.append(widths[c] - row[c].size() + 2, ' ');
    }
    text += "\n";
  }
  return text;
}

int RunStylesList(const ParsedArgs& args) {
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError("styles list", client.status().message());
  absl::StatusOr<std::vector<v1::StyleInfo>> styles = (*client)->ListStyles();
  if (!styles.ok()) return ServerError(styles.status());
  std::cout << FormatStyleTable(*styles);
  return kExitOk;
}

int RunStylesDelete(const ParsedArgs& args) {
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError("styles delete", client.status().message());
  const std::string& id = args.positionals()[0];
  if (absl::Status s = (*client)->DeleteStyle(id); !s.ok()) return ServerError(s);
  std::cout << "deleted " << id << "\n";
  return kExitOk;
}

// ---- health --------------------------------------------------------------------------------

int RunHealth(const ParsedArgs& args) {
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError("health", client.status().message());
  absl::StatusOr<StyleClient::ServingStatus> status = (*client)->Health(args.Get("service"));
  if (!status.ok()) return ServerError(status.status());
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status) << "\n";
  return *status == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitServerError;
}

// ---- bench ---------------------------------------------------------------------------------

struct BenchPlan {
  int concurrency = 4;
  int warmup = 2;
  std::optional<int64_t> requests;  // else run for `duration`
  absl::Duration duration = absl::Seconds(10);
  std::string json_path;
};

absl::StatusOr<BenchPlan> ParseBenchPlan(const ParsedArgs& args) {
  BenchPlan plan;
  absl::StatusOr<int64_t> concurrency = args.GetInt("concurrency", 4, 1, 1024);
  if (!concurrency.ok()) return concurrency.status();
  plan.concurrency = static_cast<int>(*concurrency);
  absl::StatusOr<int64_t> warmup = args.GetInt("warmup", 2, 0, 100000);
  if (!warmup.ok()) return warmup.status();
  plan.warmup = static_cast<int>(*warmup);
  if (args.Has("duration") && args.Has("requests")) {
    return absl::InvalidArgumentError("give --duration or --requests, not both");
  }
  if (args.Has("requests")) {
    absl::StatusOr<int64_t> requests = args.GetInt("requests", 0, 1, int64_t{1} << 40);
    if (!requests.ok()) return requests.status();
    plan.requests = *requests;
  }
  absl::StatusOr<double> duration = args.GetDouble("duration", 10, 0.001, 1e7);
  if (!duration.ok()) return duration.status();
  plan.duration = absl::Seconds(*duration);
  plan.json_path = args.Get("json");
  return plan;
}

// Sends requests from `plan.concurrency` threads until the count or the time is used up.
std::vector<BenchSample> DriveLoad(const StyleClient& client, const v1::StylizeRequest& request,
                                   const BenchPlan& plan) {
  std::mutex mu;
  std::vector<BenchSample> samples;
  std::atomic<int64_t> claimed{0};
  const absl::Time end = absl::Now() + plan.duration;
  auto more = [&] {
    if (plan.requests) return claimed.fetch_add(1) < *plan.requests;
    return absl::Now() < end;
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < plan.concurrency; ++w) {
    workers.emplace_back([&] {
      std::vector<BenchSample> mine;
      while (more()) {
        const absl::Time start = absl::Now();
        absl::StatusOr<v1::StylizeResponse> response = client.Stylize(request);
        BenchSample sample;
        sample.latency_ms = MillisSince(start);
        sample.code = response.status().code();
        if (response.ok()) {
          sample.queued_ms = response->timing().queued_seconds() * 1000;
          sample.compute_ms = response->timing().compute_seconds() * 1000;
          sample.decode_ms = response->timing().decode_seconds() * 1000;
          sample.encode_ms = response->timing().encode_seconds() * 1000;
          sample.server_total_ms = response->timing().total_seconds() * 1000;
        }
        mine.push_back(sample);
      }
      std::lock_guard<std::mutex> lock(mu);
      samples.insert(samples.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& worker : workers) worker.join();
  return samples;
}

// Builds the benchmark request, registering the style first when asked to. Returns the exit
// code on failure (after printing the error).
std::optional<int> BuildBenchRequest(const ParsedArgs& args, const StyleClient& client,
                                     v1::StylizeRequest* request) {
  absl::StatusOr<std::string> content = ReadFileBytes(args.Get("content"));
  if (!content.ok()) return IoError(content.status());
  request->set_content(*std::move(content));
  v1::StyleSource* source = request->add_styles();
  if (args.Has("style-id")) {
    source->set_style_id(args.Get("style-id"));
    return std::nullopt;
  }
  absl::StatusOr<std::string> style = ReadFileBytes(args.Get("style"));
  if (!style.ok()) return IoError(style.status());
  if (!args.Has("register-style")) {
    source->set_image(*std::move(style));
    return std::nullopt;
  }
  absl::StatusOr<v1::RegisterStyleResponse> registered =
      client.RegisterStyle(*std::move(style), "bench");
  if (!registered.ok()) return ServerError(registered.status());
  std::cerr << "bench: registered style " << registered->style().style_id() << "\n";
  source->set_style_id(registered->style().style_id());
  return std::nullopt;
}

int RunBench(const ParsedArgs& args) {
  const std::string command = "bench";
  if (absl::Status s = RequireOptions(args, {"content"}); !s.ok()) {
    return UsageError(command, s.message());
  }
  if (args.Has("style") == args.Has("style-id")) {
    return UsageError(command, "give exactly one of --style FILE and --style-id ID");
  }
  if (args.Has("register-style") && !args.Has("style")) {
    return UsageError(command, "--register-style needs --style FILE");
  }
  absl::StatusOr<BenchPlan> plan = ParseBenchPlan(args);
  if (!plan.ok()) return UsageError(command, plan.status().message());
  v1::StylizeRequest request;
  if (absl::Status s = ApplyTransferOptions(args, v1::IMAGE_FORMAT_JPEG, "size", &request);
      !s.ok()) {
    return UsageError(command, s.message());
  }
  absl::StatusOr<std::unique_ptr<StyleClient>> client = MakeClient(args);
  if (!client.ok()) return UsageError(command, client.status().message());
  if (std::optional<int> failed = BuildBenchRequest(args, **client, &request)) return *failed;

  for (int i = 0; i < plan->warmup; ++i) {
    absl::StatusOr<v1::StylizeResponse> response = (*client)->Stylize(request);
    if (!response.ok()) return ServerError(response.status());
  }
  std::cerr << absl::StrFormat("bench: %d workers, %s\n", plan->concurrency,
                               plan->requests ? absl::StrCat(*plan->requests, " requests")
                                              : absl::FormatDuration(plan->duration));
  const absl::Time start = absl::Now();
  const std::vector<BenchSample> samples = DriveLoad(**client, request, *plan);
  const BenchSummary summary =
      Summarize(samples, absl::ToDoubleSeconds(absl::Now() - start), plan->concurrency);

  (plan->json_path == "-" ? std::cerr : std::cout) << FormatBenchText(summary);
  if (plan->json_path == "-") {
    std::cout << FormatBenchJson(summary);
  } else if (!plan->json_path.empty()) {
    if (absl::Status s = WriteFileBytes(plan->json_path, FormatBenchJson(summary)); !s.ok()) {
      return IoError(s);
    }
  }
  if (summary.ok > 0 || summary.requests == 0) return kExitOk;
  std::cerr << "error: no request succeeded\n";
  const bool all_unreachable = std::all_of(
      samples.begin(), samples.end(), [](const BenchSample& s) { return IsUnreachable(s.code); });
  return all_unreachable ? kExitUnreachable : kExitServerError;
}

// ---- Dispatch ------------------------------------------------------------------------------

using Handler = int (*)(const ParsedArgs&);

// Parses the arguments of one command, copies in the global options given before it, and runs
// it (or prints its usage).
int Dispatch(const CommandSpec& spec, Handler handler, const ParsedArgs& globals,
             const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed = ParseCommand(spec, GlobalOptions(), args);
  if (!parsed.ok()) return UsageError(spec.name, parsed.status().message());
  if (parsed->help()) {
    std::cout << FullUsage(spec);
    return kExitOk;
  }
  for (const OptionSpec& option : GlobalOptions()) {
    if (!parsed->Has(option.name) && globals.Has(option.name)) {
      parsed->Set(option.name, globals.Get(option.name));
    }
  }
  return handler(*parsed);
}

int DispatchStyles(const ParsedArgs& globals, const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << StylesUsage();
    return kExitUsage;
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << StylesUsage();
    return kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "register")
    return Dispatch(StylesRegisterSpec(), RunStylesRegister, globals, rest);
  if (args[0] == "list") return Dispatch(StylesListSpec(), RunStylesList, globals, rest);
  if (args[0] == "delete") return Dispatch(StylesDeleteSpec(), RunStylesDelete, globals, rest);
  return UsageError("styles", absl::StrCat("unknown styles command \"", args[0], "\""));
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << ProgramUsage();
    return kExitUsage;
  }
  absl::StatusOr<ParsedArgs> globals = ParseCommandArgs(GlobalOptions(), args, true);
  if (!globals.ok()) return UsageError("", globals.status().message());
  if (globals->help()) {
    std::cout << ProgramUsage();
    return kExitOk;
  }
  if (globals->positionals().empty()) {
    std::cerr << ProgramUsage();
    return kExitUsage;
  }
  const std::string& command = globals->positionals()[0];
  std::vector<std::string> rest(globals->positionals().begin() + 1, globals->positionals().end());
  if (command == "help") {
    if (rest.empty()) {
      std::cout << ProgramUsage();
      return kExitOk;
    }
    rest.push_back("--help");
    return Main(rest);
  }
  if (command == "stylize") return Dispatch(StylizeSpec(), RunStylize, *globals, rest);
  if (command == "batch") return Dispatch(BatchSpec(), RunBatch, *globals, rest);
  if (command == "styles") return DispatchStyles(*globals, rest);
  if (command == "health") return Dispatch(HealthSpec(), RunHealth, *globals, rest);
  if (command == "bench") return Dispatch(BenchSpec(), RunBench, *globals, rest);
  return UsageError("", absl::StrCat("unknown command \"", command, "\""));
}

}  // namespace
}  // namespace style

int main(int argc, char** argv) {
  return style::Main(std::vector<std::string>(argv + 1, argv + argc));
}
