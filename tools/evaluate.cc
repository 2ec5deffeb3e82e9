// style_eval: scores a model against the VGG19 teacher on held-out content/style pairs.
//
//   style_eval --model_dir=models/default --teacher_dir=models/adain-vgg19
//       --content_dir=D/content --style_dir=D/style --json=eval.json --grid=grid.jpg
//
// For the model and for the teacher (the standard AdaIN network) it reports:
//   - content and style loss, averaged over the pairs, both measured through the teacher
//     encoder against the teacher's AdaIN target (train/losses.h, the training formulas), on
//     the image a user gets (clamped to [0,1], cropped to the input size);
//   - the median CPU latency of one stylization at --latency_size (square content and style),
//     through the server's AdainModel in float32, with the style encoded in the request and
//     with its statistics cached (the two models alternate run by run);
// and writes a JPEG grid (content | style | teacher | model) for the first --grid_pairs pairs.
//
// The pairs are the held-out files (train/training_data.h IsHeldOut) of both folders: pair i
// is content i mod N_content with style i mod N_style, centre crops of --eval_crop pixels.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/adain.h"
#include "server/adain_model.h"
#include "server/image_codec.h"
#include "server/status_util.h"
#include "server/tensor_image.h"
#include "train/losses.h"
#include "train/training_data.h"

ABSL_FLAG(std::string, model_dir, "", "the model folder to evaluate (encoder.pt, decoder.pt)");
ABSL_FLAG(std::string, teacher_dir, "", "the VGG19 model folder (converted standard weights)");
ABSL_FLAG(std::string, content_dir, "", "content folder (its held-out files are used)");
ABSL_FLAG(std::string, style_dir, "", "style folder (its held-out files are used)");
ABSL_FLAG(int, pairs, 0, "pairs to score (0: as many as the larger held-out set)");
ABSL_FLAG(int, eval_crop, 256, "side of the square centre crops scored (a multiple of 8)");
ABSL_FLAG(int, content_side, 320, "content images are first shrunk to this shorter side (as in training)");
ABSL_FLAG(int, style_side, 384, "style images likewise");
ABSL_FLAG(std::string, device, "cpu", "device for the losses (latency is always measured on the CPU)");
ABSL_FLAG(int, latency_size, 512, "side of the square content and style images timed");
ABSL_FLAG(int, latency_runs, 5, "timed runs per figure (after one warm-up); 0 skips the timing");
ABSL_FLAG(int, torch_threads, 2, "LibTorch intra-op threads on the CPU");
ABSL_FLAG(std::string, json, "", "write the results here");
ABSL_FLAG(std::string, grid, "", "write a content | style | teacher | model JPEG grid here");
ABSL_FLAG(int, grid_pairs, 4, "rows of the grid");

namespace style::train {
namespace {

using Clock = std::chrono::steady_clock;

struct Pair {
  at::Tensor content;  // float [1,3,crop,crop] in [0,1], CPU
  at::Tensor style;
};

struct Scores {
  std::string name;
  int64_t parameters = 0;
  double content = 0;
  double style = 0;
  double latency_ms = -1;         // style encoded in the request
  double latency_cached_ms = -1;  // style statistics cached
  double latency_min_ms = -1;     // the fastest run, style encoded: less sensitive to other load
  std::vector<at::Tensor> grid;   // outputs of the first grid pairs
};

at::Tensor CentreCrop(const at::Tensor& image, int side) {
  const int64_t h = image.size(1);
  const int64_t w = image.size(2);
  at::Tensor x = image.to(at::kFloat).div(255.0).unsqueeze(0);
  if (std::min(h, w) < side) {  // small images are enlarged to fit
    const double s = static_cast<double>(side) / std::min(h, w);
    x = at::upsample_bilinear2d(x, {std::max<int64_t>(side, std::llround(h * s)), std::max<int64_t>(side, std::llround(w * s))},
                                false);
  }
  return x.narrow(2, (x.size(2) - side) / 2, side).narrow(3, (x.size(3) - side) / 2, side).contiguous();
}

absl::StatusOr<std::vector<at::Tensor>> LoadHeldOut(const std::string& dir, int short_side, int crop) {
  ASSIGN_OR_RETURN(ImagePool pool, ImagePool::Load(dir, Split::kHeldOut, short_side));
  std::vector<at::Tensor> crops;
  for (size_t i = 0; i < pool.size(); ++i) crops.push_back(CentreCrop(pool.image(i), crop));
  return crops;
}

absl::StatusOr<std::vector<Pair>> LoadPairs() {
  const int crop = absl::GetFlag(FLAGS_eval_crop);
  ASSIGN_OR_RETURN(auto contents, LoadHeldOut(absl::GetFlag(FLAGS_content_dir), absl::GetFlag(FLAGS_content_side), crop));
  ASSIGN_OR_RETURN(auto styles, LoadHeldOut(absl::GetFlag(FLAGS_style_dir), absl::GetFlag(FLAGS_style_side), crop));
  size_t n = absl::GetFlag(FLAGS_pairs) > 0 ? absl::GetFlag(FLAGS_pairs) : std::max(contents.size(), styles.size());
  std::vector<Pair> pairs;
  for (size_t i = 0; i < n; ++i) pairs.push_back({contents[i % contents.size()], styles[i % styles.size()]});
  return pairs;
}

// The image a user gets: clamped, cropped to the content's size.
at::Tensor Stylize(const ConvNet& encoder, const ConvNet& decoder, const at::Tensor& content, const at::Tensor& style) {
  auto [mean, std] = MeanStd(encoder.Forward(style));
  const at::Tensor t = AdaIn(encoder.Forward(content), mean, std, at::ones({content.size(0)}, mean.options()));
  return decoder.Forward(t).narrow(2, 0, content.size(2)).narrow(3, 0, content.size(3)).clamp(0, 1);
}

void ScoreLosses(const AdainNetworks& networks, const ConvNet& teacher, const std::vector<Pair>& pairs,
                 const std::vector<TeacherTargets>& targets, const at::Device& device, int grid_pairs,
                 Scores* scores) {
  c10::AutoGradMode no_grad(false);
  const at::TensorOptions options = at::TensorOptions().device(device).dtype(at::kFloat);
  const ConvNet encoder = networks.encoder.To(options);
  const ConvNet decoder = networks.decoder.To(options);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const at::Tensor output = Stylize(encoder, decoder, pairs[i].content.to(device), pairs[i].style.to(device));
    const AdainLossTerms terms = AdainLosses(teacher, output, targets[i]);
    scores->content += terms.content.item<double>() / pairs.size();
    scores->style += terms.style.item<double>() / pairs.size();
    if (static_cast<int>(i) < grid_pairs) scores->grid.push_back(output.cpu());
  }
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Times the server's own CPU path (AdainModel, float32) at `side` x `side` for each model. The
// models take turns run by run, so that a change in the machine's load (it may be shared)
// affects them alike and their ratio stays meaningful.
absl::Status TimeLatency(const std::vector<std::pair<std::shared_ptr<const AdainNetworks>, Scores*>>& models,
                         int side, int runs) {
  AdainModelOptions options;
  options.device = "cpu";
  std::vector<std::unique_ptr<AdainModel>> instances;
  for (const auto& [networks, scores] : models) {
    ASSIGN_OR_RETURN(std::unique_ptr<AdainModel> model, AdainModel::Create(networks, options));
    instances.push_back(std::move(model));
  }
  const at::Tensor content = at::rand({1, 3, side, side});
  const at::Tensor style = at::rand({1, 3, side, side});
  const at::Tensor alpha = at::ones({1});
  std::vector<std::vector<double>> full(models.size()), cached(models.size());
  for (int run = 0; run <= runs; ++run) {  // run 0 warms up
    for (size_t m = 0; m < instances.size(); ++m) {
      const Clock::time_point t0 = Clock::now();
      ASSIGN_OR_RETURN(StyleStats stats, instances[m]->EncodeStyle(style));
      const Clock::time_point t1 = Clock::now();
      RETURN_IF_ERROR(instances[m]->Stylize(content, stats.mean.unsqueeze(0), stats.std.unsqueeze(0), alpha).status());
      const Clock::time_point t2 = Clock::now();
      if (run == 0) continue;
      full[m].push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
      cached[m].push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
  }
  for (size_t m = 0; m < models.size(); ++m) {
    models[m].second->latency_ms = Median(full[m]);
    models[m].second->latency_cached_ms = Median(cached[m]);
    models[m].second->latency_min_ms = *std::min_element(full[m].begin(), full[m].end());
  }
  return absl::OkStatus();
}

absl::Status WriteGrid(const std::string& path, const std::vector<Pair>& pairs, const Scores& teacher,
                       const Scores& model) {
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < model.grid.size(); ++i) {
    rows.push_back(at::cat({pairs[i].content, pairs[i].style, teacher.grid[i], model.grid[i]}, 3));
  }
  if (rows.empty()) return absl::OkStatus();
  const RgbImage image = TensorToImage(at::cat(rows, 2));
  ASSIGN_OR_RETURN(std::string jpeg, EncodeImage(image, OutputFormat::kJpeg, 90));
  std::ofstream out(path, std::ios::binary);
  out.write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ScoresJson(const Scores& s) {
  return absl::StrFormat(
      "{\"name\": \"%s\", \"parameters\": %d, \"content_loss\": %.6g, \"style_loss\": %.6g, "
      "\"latency_ms\": %.2f, \"latency_style_cached_ms\": %.2f, \"latency_min_ms\": %.2f}",
      s.name, s.parameters, s.content, s.style, s.latency_ms, s.latency_cached_ms, s.latency_min_ms);
}

absl::Status WriteJson(const std::string& path, const Scores& teacher, const Scores& model, size_t pairs) {
  std::ofstream out(path);
  out << absl::StrFormat(
      "{\n  \"pairs\": %d,\n  \"eval_crop\": %d,\n  \"latency_size\": %d,\n  \"torch_threads\": %d,\n"
      "  \"latency_note\": \"median CPU ms of one stylization, float32, AdainModel; latency_ms encodes the style "
      "in the request, latency_style_cached_ms uses cached style statistics, latency_min_ms is the fastest run "
      "with the style encoded\",\n"
      "  \"teacher\": %s,\n  \"model\": %s,\n  \"content_ratio\": %.4g,\n  \"style_ratio\": %.4g,\n"
      "  \"latency_ratio\": %.4g\n}\n",
      pairs, absl::GetFlag(FLAGS_eval_crop), absl::GetFlag(FLAGS_latency_size), absl::GetFlag(FLAGS_torch_threads),
      ScoresJson(teacher), ScoresJson(model), model.content / teacher.content, model.style / teacher.style,
      model.latency_ms / teacher.latency_ms);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

void PrintTable(const Scores& teacher, const Scores& model) {
  std::printf("\n| model | parameters | content loss | style loss | CPU ms, %d px | CPU ms, style cached |\n",
              absl::GetFlag(FLAGS_latency_size));
  std::printf("|---|---|---|---|---|---|\n");
  for (const Scores* s : {&teacher, &model}) {
    std::printf("| %s | %lld | %.4g (x%.2f) | %.4g (x%.2f) | %.0f (x%.2f) | %.0f (x%.2f) |\n", s->name.c_str(),
                static_cast<long long>(s->parameters), s->content, s->content / teacher.content, s->style,
                s->style / teacher.style, s->latency_ms, s->latency_ms / teacher.latency_ms, s->latency_cached_ms,
                s->latency_cached_ms / teacher.latency_cached_ms);
  }
}

absl::Status Run() {
  at::set_num_threads(absl::GetFlag(FLAGS_torch_threads));
  if (absl::GetFlag(FLAGS_eval_crop) % 8 != 0) return absl::InvalidArgumentError("--eval_crop: a multiple of 8");
  ASSIGN_OR_RETURN(auto teacher_networks, LoadAdainNetworks(absl::GetFlag(FLAGS_teacher_dir)));
  ASSIGN_OR_RETURN(auto model_networks, LoadAdainNetworks(absl::GetFlag(FLAGS_model_dir)));
  ASSIGN_OR_RETURN(std::vector<Pair> pairs, LoadPairs());
  const at::Device device(absl::GetFlag(FLAGS_device));
  const ConvNet teacher = teacher_networks->encoder.To(at::TensorOptions().device(device).dtype(at::kFloat));

  std::vector<TeacherTargets> targets;
  for (const Pair& pair : pairs) targets.push_back(MakeTeacherTargets(teacher, pair.content.to(device), pair.style.to(device)));
  Scores teacher_scores;
  teacher_scores.name = "teacher (" + teacher_networks->name + ")";
  teacher_scores.parameters = teacher_networks->encoder.ParameterCount() + teacher_networks->decoder.ParameterCount();
  Scores model_scores;
  model_scores.name = model_networks->name;
  model_scores.parameters = model_networks->encoder.ParameterCount() + model_networks->decoder.ParameterCount();
  const int grid_pairs = absl::GetFlag(FLAGS_grid).empty() ? 0 : absl::GetFlag(FLAGS_grid_pairs);
  const Clock::time_point t0 = Clock::now();
  ScoreLosses(*teacher_networks, teacher, pairs, targets, device, grid_pairs, &teacher_scores);
  ScoreLosses(*model_networks, teacher, pairs, targets, device, grid_pairs, &model_scores);
  std::printf("scored %zu held-out pairs in %.1f s\n", pairs.size(),
              std::chrono::duration<double>(Clock::now() - t0).count());
  if (absl::GetFlag(FLAGS_latency_runs) > 0) {
    const int side = absl::GetFlag(FLAGS_latency_size);
    RETURN_IF_ERROR(TimeLatency({{teacher_networks, &teacher_scores}, {model_networks, &model_scores}}, side,
                                absl::GetFlag(FLAGS_latency_runs)));
  }
  PrintTable(teacher_scores, model_scores);
  if (!absl::GetFlag(FLAGS_json).empty()) {
    RETURN_IF_ERROR(WriteJson(absl::GetFlag(FLAGS_json), teacher_scores, model_scores, pairs.size()));
  }
  if (grid_pairs > 0) RETURN_IF_ERROR(WriteGrid(absl::GetFlag(FLAGS_grid), pairs, teacher_scores, model_scores));
  return absl::OkStatus();
}

}  // namespace
}  // namespace style::train

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Scores a model against the VGG19 teacher on held-out pairs; see docs/training.md");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = style::train::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "style_eval: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
