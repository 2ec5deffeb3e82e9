// Model-level benchmark: images/s of the AdaIN network (encoder, AdaIN with cached style
// statistics, decoder) against batch size and image size, for each padding implementation, on
// device tensors (no host copies, no codec). Also measures the half-precision parity against
// float32 with reflection padding on a real image pair.
//
//   bench_model --model_dir=D --device=cuda:0 --dtype=float16 --sizes=256,512,1024
//       --batches=1,2,4,8,16,32,64 --paddings=reflect,fix,zero --json=out.json
#include <chrono>
#include <cstdio>
#include <fstream>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/adain.h"
#include "server/adain_model.h"
#include "server/image_codec.h"
#include "server/server.h"
#include "server/tensor_image.h"

ABSL_FLAG(std::string, model_dir, "", "model folder");
ABSL_FLAG(std::string, device, "cuda:0", "device");
ABSL_FLAG(std::string, dtype, "float16", "float32, float16, bfloat16");
ABSL_FLAG(std::string, sizes, "256,512,1024", "square image sides");
ABSL_FLAG(std::string, batches, "1,2,4,8,16,32,64", "batch sizes");
ABSL_FLAG(std::string, paddings, "reflect,fix,zero",
          "variants to time: a padding (reflect, fix, zero) optionally with +fuse (cuDNN conv+ReLU) "
          "and +graph (CUDA graph replay), e.g. fix+fuse+graph");
ABSL_FLAG(double, seconds, 1.0, "time per point");
ABSL_FLAG(std::string, parity_content, "", "content image for the parity check (optional)");
ABSL_FLAG(std::string, parity_style, "", "style image for the parity check");
ABSL_FLAG(std::string, json, "", "write results here");

namespace {

using style::PaddingImpl;

std::vector<int> Ints(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(item, &v)) out.push_back(v);
  }
  return out;
}

PaddingImpl ParsePadding(absl::string_view name) {
  if (absl::StartsWith(name, "reflect")) return PaddingImpl::kReflectPad;
  if (absl::StartsWith(name, "zero")) return PaddingImpl::kZeroPadInexact;
  return PaddingImpl::kZeroPadFixBorder;
}

std::unique_ptr<style::AdainModel> MakeModel(std::shared_ptr<const style::AdainNetworks> networks,
                                             const std::string& device, at::ScalarType dtype, PaddingImpl padding,
                                             bool fuse = false, bool graphs = false) {
  style::AdainModelOptions options;
  options.device = device;
  options.dtype = dtype;
  options.padding = padding;
  options.fuse_relu = fuse;
  options.cuda_graphs = graphs;
  auto model = style::AdainModel::Create(std::move(networks), options);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*model);
}

// Images per second at one point, or a negative value when it does not fit in memory.
double Time(style::AdainModel& model, int size, int batch, double seconds) {
  double rate = -1;
  model.device().WithStream([&] {
    try {
      c10::InferenceMode guard;
      const at::TensorOptions opts = model.tensor_options();
      const at::Tensor x = at::rand({batch, 3, size, size}, opts.dtype(at::kFloat)).to(opts).contiguous(model.memory_format());
      const int64_t c = model.info().feature_channels;
      const at::Tensor mean = at::rand({batch, c}, opts.dtype(at::kFloat));
      const at::Tensor std = at::rand({batch, c}, opts.dtype(at::kFloat)) + 0.5;
      const at::Tensor alpha = at::ones({batch}, opts.dtype(at::kFloat));
      auto run = [&] {
        return model.device().RunGraphed({x, mean, std, alpha}, [&](const std::vector<at::Tensor>& in) {
          return model.Forward(in[0], in[1], in[2], in[3]);
        });
      };
      for (int i = 0; i < 3; ++i) run();
      model.device().Synchronize();
      int iterations = 0;
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      do {
        run();
        ++iterations;
        if (iterations % 4 == 0 || elapsed == 0) model.device().Synchronize();
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < seconds || iterations < 5);
      model.device().Synchronize();
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      rate = iterations * batch / elapsed;
    } catch (const c10::OutOfMemoryError&) {
      model.device().ReleaseCachedMemory();
    }
  });
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  style::ConfigureCudaForInference();
  auto networks = style::LoadAdainNetworks(absl::GetFlag(FLAGS_model_dir));
  if (!networks.ok()) {
    std::fprintf(stderr, "%s\n", networks.status().ToString().c_str());
    return 1;
  }
  auto dtype = style::ParseDtype(absl::GetFlag(FLAGS_dtype));
  if (!dtype.ok()) return 1;
  const std::string device = absl::GetFlag(FLAGS_device);
  std::vector<std::string> rows;

  if (!absl::GetFlag(FLAGS_parity_content).empty()) {
    // Half precision with the fast padding against float32 with the reference's padding.
    (void)style::InitImageCodec();
    auto read = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto image = style::DecodeImage(bytes, {});
      if (!image.ok()) std::exit(1);
      return style::ImageToTensor(*image);
    };
    const at::Tensor content = read(absl::GetFlag(FLAGS_parity_content));
    const at::Tensor style_image = read(absl::GetFlag(FLAGS_parity_style));
    auto reference = MakeModel(*networks, device, at::kFloat, PaddingImpl::kReflectPad);
    auto ref_stats = reference->EncodeStyle(style_image);
    auto one = at::ones({1});
    auto ref_out = reference->Stylize(content, ref_stats->mean.unsqueeze(0), ref_stats->std.unsqueeze(0), one);
    const style::RgbImage a = style::TensorToImage(*ref_out);
    for (const char* variant : {"reflect", "fix+fuse+graph"}) {
      auto fast = MakeModel(*networks, device, *dtype, ParsePadding(variant), absl::StrContains(variant, "+fuse"),
                            absl::StrContains(variant, "+graph"));
      auto fast_stats = fast->EncodeStyle(style_image);
      auto fast_out = fast->Stylize(content, fast_stats->mean.unsqueeze(0), fast_stats->std.unsqueeze(0), one);
      const style::RgbImage b = style::TensorToImage(*fast_out);
      int worst = 0;
      double sum = 0;
      size_t over3 = 0;
      for (size_t i = 0; i < a.pixels.size(); ++i) {
        const int d = std::abs(a.pixels[i] - b.pixels[i]);
        worst = std::max(worst, d);
        sum += d;
        over3 += d > 3;
      }
      std::printf("parity %s %s vs float32 reflect at %dx%d: max %d/255, mean %.3f/255, %.4f%% of values over 3/255\n",
                  absl::GetFlag(FLAGS_dtype).c_str(), variant, a.width, a.height, worst, sum / a.pixels.size(),
                  100.0 * over3 / a.pixels.size());
      rows.push_back(absl::StrCat(R"({"kind":"parity","dtype":")", absl::GetFlag(FLAGS_dtype), R"(","variant":")",
                                  variant, R"(","width":)", a.width, R"(,"height":)", a.height, R"(,"max_diff":)", worst,
                                  R"(,"mean_diff":)", sum / a.pixels.size(), R"(,"fraction_over_3":)",
                                  static_cast<double>(over3) / a.pixels.size(), "}"));
    }
  }

  std::printf("%-18s %6s %6s %12s\n", "padding", "size", "batch", "images/s");
  for (absl::string_view padding_name : absl::StrSplit(absl::GetFlag(FLAGS_paddings), ',', absl::SkipEmpty())) {
    auto model = MakeModel(*networks, device, *dtype, ParsePadding(padding_name),
                           absl::StrContains(padding_name, "+fuse"), absl::StrContains(padding_name, "+graph"));
    for (int size : Ints(absl::GetFlag(FLAGS_sizes))) {
      for (int batch : Ints(absl::GetFlag(FLAGS_batches))) {
        const double rate = Time(*model, size, batch, absl::GetFlag(FLAGS_seconds));
        std::printf("%-18s %6d %6d %12.1f\n", std::string(padding_name).c_str(), size, batch, rate);
        std::fflush(stdout);
        rows.push_back(absl::StrCat(R"({"kind":"model","padding":")", padding_name, R"(","size":)", size,
                                    R"(,"batch":)", batch, R"(,"images_per_second":)", rate, "}"));
        if (rate < 0) break;  // larger batches will not fit either
      }
    }
  }
  if (!absl::GetFlag(FLAGS_json).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json)) << "[" << absl::StrJoin(rows, ",\n") << "]\n";
  }
  return 0;
}
