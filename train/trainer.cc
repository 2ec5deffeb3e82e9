#include "train/trainer.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <c10/core/GradMode.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/adain.h"
#include "server/status_util.h"
#include "train/losses.h"

namespace style::train {
namespace {

namespace fs = std::filesystem;

constexpr char kStateFile[] = "trainer_state.txt";
constexpr char kOptimizerFile[] = "optimizer.pt";
constexpr int kTaps = 4;

int64_t TapWidth(const NetworkWidths& w, int tap) {
  const int64_t widths[kTaps] = {w.c1, w.c2, w.c3, w.c4};
  return widths[tap];
}

// PyTorch's default convolution initialisation (kaiming_uniform with a = sqrt(5), i.e. weights
// and biases uniform in +-1/sqrt(fan_in)), which the reference decoder was trained from.
void InitDefault(int64_t out, int64_t in, int64_t kernel, at::Tensor* weight, at::Tensor* bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * kernel * kernel));
  *weight = at::empty({out, in, kernel, kernel}).uniform_(-bound, bound);
  *bias = at::empty({out}).uniform_(-bound, bound);
}

// The student encoder's starting point. Layer 0 (the fixed 1x1 colour transform that feeds VGG
// its BGR, mean-subtracted 0..255 input) is the teacher's, scaled by 1/64 so that the student's
// inputs have roughly unit spread; the ReLU convolutions get He initialisation, which keeps
// the activations near the teacher's own scale (mean square about 2 at every tap).
TensorMap InitEncoder(const NetworkWidths& widths, const ConvNet& teacher) {
  TensorMap weights;
  for (const Layer& layer : EncoderLayers(widths)) {
    if (layer.kind != Layer::Kind::kConv) continue;
    const std::string w = absl::StrCat(layer.index, ".weight");
    const std::string b = absl::StrCat(layer.index, ".bias");
    if (layer.kernel == 1) {
      weights[w] = teacher.weights().at(w).to(at::kCPU, at::kFloat) / 64.0;
      weights[b] = teacher.weights().at(b).to(at::kCPU, at::kFloat) / 64.0;
      continue;
    }
    const double fan_in = static_cast<double>(layer.in_channels * layer.kernel * layer.kernel);
    weights[w] = at::randn({layer.out_channels, layer.in_channels, layer.kernel, layer.kernel}) * std::sqrt(2.0 / fan_in);
    weights[b] = at::zeros({layer.out_channels});
  }
  return weights;
}

TensorMap InitDecoder(const NetworkWidths& widths) {
  TensorMap weights;
  for (const Layer& layer : DecoderLayers(widths)) {
    if (layer.kind != Layer::Kind::kConv) continue;
    InitDefault(layer.out_channels, layer.in_channels, layer.kernel, &weights[absl::StrCat(layer.index, ".weight")],
                &weights[absl::StrCat(layer.index, ".bias")]);
  }
  return weights;
}

TensorMap InitProjections(const NetworkWidths& student, const NetworkWidths& teacher) {
  TensorMap weights;
  for (int tap = 0; tap < kTaps; ++tap) {
    InitDefault(TapWidth(teacher, tap), TapWidth(student, tap), 1, &weights[ProjectionName(tap, "weight")],
                &weights[ProjectionName(tap, "bias")]);
  }
  return weights;
}

// Loads `dir`/`file` and checks it against `layers`.
absl::StatusOr<TensorMap> LoadNetwork(const std::string& dir, const std::string& file,
                                      const std::vector<Layer>& layers) {
  const std::string path = (fs::path(dir) / file).string();
  ASSIGN_OR_RETURN(TensorMap weights, LoadTensorFile(path));
  ASSIGN_OR_RETURN(ConvNet net, ConvNet::Create(layers, std::move(weights), path));
  return net.weights();
}

absl::StatusOr<TensorMap> LoadProjections(const std::string& dir, const NetworkWidths& student,
                                          const NetworkWidths& teacher) {
  const std::string path = (fs::path(dir) / "projections.pt").string();
  ASSIGN_OR_RETURN(TensorMap weights, LoadTensorFile(path));
  for (int tap = 0; tap < kTaps; ++tap) {
    const std::vector<int64_t> weight_shape = {TapWidth(teacher, tap), TapWidth(student, tap), 1, 1};
    const std::vector<int64_t> bias_shape = {TapWidth(teacher, tap)};
    for (const auto& [suffix, shape] : {std::pair{"weight", weight_shape}, std::pair{"bias", bias_shape}}) {
      auto it = weights.find(ProjectionName(tap, suffix));
      if (it == weights.end() || it->second.sizes() != at::IntArrayRef(shape)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor ", ProjectionName(tap, suffix), " is missing or misshapen"));
      }
    }
  }
  return weights;
}

// INVALID_ARGUMENT for a device name LibTorch does not know, or CUDA in a build or on a
// machine without it.
absl::Status CheckDevice(const std::string& name) {
  try {
    const at::Device device(name);
    if (device.is_cuda() && !at::hasCUDA()) return absl::InvalidArgumentError("CUDA is not available here");
    if (!device.is_cuda() && !device.is_cpu()) return absl::InvalidArgumentError("use cpu or cuda[:N]");
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("unknown device \"", name, "\"; use cpu or cuda[:N]"));
  }
  return absl::OkStatus();
}

bool HasFile(const std::string& dir, const std::string& file) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / file, ec);
}

// trainer_state.txt: "key=value" lines.
absl::StatusOr<std::map<std::string, std::string>> ReadState(const std::string& dir) {
  const std::string path = (fs::path(dir) / kStateFile).string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no checkpoint in ", dir, " (", path, " is missing)"));
  std::map<std::string, std::string> state;
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) state[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return state;
}

// The folder to resume from: `dir`, or the previous checkpoint that SaveCheckpoint moves aside
// while it swaps in a new one, if a crash came in between.
absl::StatusOr<std::string> CheckpointToRead(const std::string& dir) {
  if (HasFile(dir, kStateFile)) return dir;
  if (HasFile(dir + ".old", kStateFile)) return dir + ".old";
  return absl::NotFoundError(absl::StrCat("no checkpoint in ", dir));
}

void CheckSameOption(const std::map<std::string, std::string>& state, const std::string& key, double value) {
  auto it = state.find(key);
  double saved = 0;
  if (it != state.end() && absl::SimpleAtod(it->second, &saved) && saved != value) {
    std::fprintf(stderr, "note: resuming with %s=%g; the checkpoint was trained with %g\n", key.c_str(), value,
                 saved);
  }
}

}  // namespace

absl::StatusOr<ConvNet> LoadEncoder(const std::string& dir) {
  const std::string path = (fs::path(dir) / "encoder.pt").string();
  ASSIGN_OR_RETURN(TensorMap weights, LoadTensorFile(path));
  ASSIGN_OR_RETURN(NetworkWidths widths, InferWidths(weights, path));
  return ConvNet::Create(EncoderLayers(widths), std::move(weights), path);
}

std::string ProjectionName(int tap, const char* suffix) { return absl::StrCat("relu", tap + 1, "_1.", suffix); }

absl::StatusOr<Phase> ParsePhase(const std::string& name) {
  if (name == "distill") return Phase::kDistill;
  if (name == "decoder") return Phase::kDecoder;
  if (name == "joint") return Phase::kJoint;
  return absl::InvalidArgumentError(absl::StrCat("unknown phase \"", name, "\"; use distill, decoder or joint"));
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kDistill: return "distill";
    case Phase::kDecoder: return "decoder";
    case Phase::kJoint: return "joint";
  }
  return "?";
}

absl::StatusOr<NetworkWidths> ParseWidths(const std::string& text) {
  const std::vector<std::string> items = absl::StrSplit(text, absl::ByAnyChar(",-"));
  std::vector<int64_t> values;
  for (const std::string& item : items) {
    int64_t v = 0;
    if (absl::SimpleAtoi(item, &v) && v > 0) values.push_back(v);
  }
  if (items.size() != 4 || values.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("widths \"", text, "\": expected four positive integers, e.g. 32,64,128,256"));
  }
  return NetworkWidths{values[0], values[1], values[2], values[3]};
}

std::string WidthsString(const NetworkWidths& w) { return absl::StrCat(w.c1, ",", w.c2, ",", w.c3, ",", w.c4); }

std::pair<int, int> Trainer::BatchCounts(Phase phase, int batch_size) {
  if (phase == Phase::kDistill) return {(batch_size + 1) / 2, batch_size / 2};
  return {batch_size, batch_size};
}

Trainer::Trainer(const TrainerOptions& options, const ConvNet& teacher, NetworkWidths widths)
    : options_(options),
      widths_(widths),
      compute_options_(at::TensorOptions().device(at::Device(options.device)).dtype(options.bf16 ? at::kBFloat16 : at::kFloat)),
      memory_format_(options.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous),
      teacher_(teacher.To(compute_options_, memory_format_, options.padding)) {}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainerOptions& options, const ConvNet& teacher,
                                                         const std::string& init_dir) {
  RETURN_IF_ERROR(CheckDevice(options.device));
  ASSIGN_OR_RETURN(NetworkWidths teacher_widths, InferWidths(teacher.weights(), "the teacher"));
  at::manual_seed(options.seed);
  NetworkWidths widths = options.widths;
  if (!init_dir.empty()) {
    ASSIGN_OR_RETURN(TensorMap encoder, LoadTensorFile((fs::path(init_dir) / "encoder.pt").string()));
    ASSIGN_OR_RETURN(widths, InferWidths(encoder, init_dir + "/encoder.pt"));
  } else if (options.phase != Phase::kDistill) {
    return absl::InvalidArgumentError(absl::StrCat("the ", PhaseName(options.phase),
                                                   " phase starts from a trained encoder: give its folder"));
  }
  std::unique_ptr<Trainer> trainer(new Trainer(options, teacher, widths));
  const bool wants_projections =
      options.phase == Phase::kDistill || (options.phase == Phase::kJoint && options.distill_weight > 0);
  const bool wants_decoder = options.phase != Phase::kDistill;
  if (init_dir.empty()) {
    trainer->encoder_ = InitEncoder(widths, teacher);
  } else {
    ASSIGN_OR_RETURN(trainer->encoder_, LoadNetwork(init_dir, "encoder.pt", EncoderLayers(widths)));
  }
  if (wants_projections) {
    if (!init_dir.empty() && HasFile(init_dir, "projections.pt")) {
      ASSIGN_OR_RETURN(trainer->projections_, LoadProjections(init_dir, widths, teacher_widths));
    } else if (options.phase == Phase::kJoint) {
      return absl::InvalidArgumentError(absl::StrCat("distill_weight > 0 needs ", init_dir, "/projections.pt"));
    } else {
      trainer->projections_ = InitProjections(widths, teacher_widths);
    }
  }
  if (wants_decoder) {
    if (!init_dir.empty() && HasFile(init_dir, "decoder.pt")) {
      ASSIGN_OR_RETURN(trainer->decoder_, LoadNetwork(init_dir, "decoder.pt", DecoderLayers(widths)));
    } else if (options.phase == Phase::kJoint) {
      return absl::InvalidArgumentError(absl::StrCat("the joint phase needs ", init_dir, "/decoder.pt"));
    } else {
      trainer->decoder_ = InitDecoder(widths);
    }
  }
  RETURN_IF_ERROR(trainer->Prepare());
  return trainer;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Resume(const TrainerOptions& options, const ConvNet& teacher,
                                                         const std::string& checkpoint_dir) {
  RETURN_IF_ERROR(CheckDevice(options.device));
  ASSIGN_OR_RETURN(const std::string dir, CheckpointToRead(checkpoint_dir));
  ASSIGN_OR_RETURN(const auto state, ReadState(dir));
  const std::string saved_phase = state.count("phase") ? state.at("phase") : "";
  if (saved_phase != PhaseName(options.phase)) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", dir, " is of phase \"", saved_phase, "\", not ",
                                                   PhaseName(options.phase)));
  }
  int64_t step = 0;
  if (!state.count("step") || !absl::SimpleAtoi(state.at("step"), &step) || step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", dir, ": no valid step"));
  }
  // The flags win; a difference is worth a note, since the run is then not a plain continuation.
  for (const auto& [key, value] : {std::pair{"lr", options.lr}, std::pair{"lr_decay", options.lr_decay},
                                   std::pair{"style_weight", options.style_weight},
                                   std::pair{"stat_weight", options.stat_weight},
                                   std::pair{"distill_weight", options.distill_weight}}) {
    CheckSameOption(state, key, value);
  }
  ASSIGN_OR_RETURN(NetworkWidths teacher_widths, InferWidths(teacher.weights(), "the teacher"));
  ASSIGN_OR_RETURN(TensorMap encoder, LoadTensorFile((fs::path(dir) / "encoder.pt").string()));
  ASSIGN_OR_RETURN(NetworkWidths widths, InferWidths(encoder, dir + "/encoder.pt"));
  std::unique_ptr<Trainer> trainer(new Trainer(options, teacher, widths));
  ASSIGN_OR_RETURN(trainer->encoder_, LoadNetwork(dir, "encoder.pt", EncoderLayers(widths)));
  if (options.phase != Phase::kDistill) {
    ASSIGN_OR_RETURN(trainer->decoder_, LoadNetwork(dir, "decoder.pt", DecoderLayers(widths)));
  }
  if (HasFile(dir, "projections.pt")) {
    ASSIGN_OR_RETURN(trainer->projections_, LoadProjections(dir, widths, teacher_widths));
  }
  RETURN_IF_ERROR(trainer->Prepare());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from((fs::path(dir) / kOptimizerFile).string(), trainer->compute_options_.device());
    trainer->optimizer_->load(archive);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load ", dir, "/", kOptimizerFile, ": ", e.what()));
  }
  trainer->step_ = step;
  return trainer;
}

absl::Status Trainer::Prepare() {
  const bool train_encoder = options_.phase != Phase::kDecoder;
  const bool train_decoder = options_.phase != Phase::kDistill;
  const bool uses_projections = options_.phase == Phase::kDistill || (train_encoder && options_.distill_weight > 0);
  if (uses_projections && projections_.empty()) {
    return absl::InvalidArgumentError("the distillation loss needs projections.pt (from the distill phase)");
  }
  try {
    auto place = [&](TensorMap& weights, bool trainable) {
      for (auto& [name, tensor] : weights) {
        at::Tensor t = tensor.to(compute_options_.device(), at::kFloat);
        if (t.dim() == 4) t = t.contiguous(memory_format_);
        // A fresh leaf, so that the optimizer owns it and nothing outside aliases it.
        tensor = t.detach().clone(t.dim() == 4 ? memory_format_ : at::MemoryFormat::Contiguous);
        tensor.set_requires_grad(trainable);
      }
    };
    place(encoder_, train_encoder);
    place(decoder_, train_decoder);
    place(projections_, uses_projections);
    optimizer_ = std::make_unique<torch::optim::Adam>(TrainableParameters(), torch::optim::AdamOptions(options_.lr));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot place the networks on ", options_.device, ": ", e.what()));
  }
  return absl::OkStatus();
}

std::vector<at::Tensor> Trainer::TrainableParameters() {
  std::vector<at::Tensor> params;
  // std::map iterates in name order: the order is the same in every run, as optimizer.pt needs.
  for (TensorMap* weights : {&encoder_, &projections_, &decoder_}) {
    for (auto& [name, tensor] : *weights) {
      if (tensor.requires_grad()) params.push_back(tensor);
    }
  }
  return params;
}

double Trainer::LrAt(int64_t step) const {
  return options_.lr / (1.0 + options_.lr_decay * static_cast<double>(step));
}

at::Tensor Trainer::ToCompute(const at::Tensor& images) const {
  return images.to(compute_options_).contiguous(memory_format_);
}

ConvNet Trainer::ComputeNet(const std::vector<Layer>& layers, const TensorMap& weights) const {
  // Shapes were checked when the weights were loaded or made; Create cannot fail here. The cast
  // to the compute dtype is recorded by autograd, so gradients reach the float32 masters.
  return ConvNet::Create(layers, weights, "trainer").value().To(compute_options_, memory_format_, options_.padding);
}

std::vector<std::pair<at::Tensor, at::Tensor>> Trainer::ProjectionPairs() const {
  std::vector<std::pair<at::Tensor, at::Tensor>> pairs;
  for (int tap = 0; tap < kTaps; ++tap) {
    pairs.emplace_back(projections_.at(ProjectionName(tap, "weight")), projections_.at(ProjectionName(tap, "bias")));
  }
  return pairs;
}

at::Tensor Trainer::DistillStep(const Batch& batch, StepResult* result) {
  std::vector<at::Tensor> inputs;
  if (batch.content.defined()) inputs.push_back(batch.content);
  if (batch.style.defined()) inputs.push_back(batch.style);
  const at::Tensor x = ToCompute(at::cat(inputs));
  std::vector<at::Tensor> teacher_taps;
  {
    c10::AutoGradMode no_grad(false);
    teacher_.Forward(x, &teacher_taps);
  }
  std::vector<at::Tensor> student_taps;
  ComputeNet(EncoderLayers(widths_), encoder_).Forward(x, &student_taps);
  const DistillLossTerms terms = DistillLosses(student_taps, teacher_taps, ProjectionPairs());
  result->feature = terms.feature.item<double>();
  result->stats = terms.stats.item<double>();
  return terms.feature + options_.stat_weight * terms.stats;
}

at::Tensor Trainer::AdainStep(const Batch& batch, StepResult* result) {
  const at::Tensor content = ToCompute(batch.content);
  const at::Tensor style = ToCompute(batch.style);
  const TeacherTargets targets = MakeTeacherTargets(teacher_, content, style);
  const bool train_encoder = options_.phase == Phase::kJoint;
  at::Tensor t;
  std::vector<at::Tensor> student_taps;
  {
    c10::AutoGradMode grad(train_encoder);
    const ConvNet encoder = ComputeNet(EncoderLayers(widths_), encoder_);
    const at::Tensor content_features = encoder.Forward(content, &student_taps);
    auto [mean, std] = MeanStd(encoder.Forward(style));
    t = AdaIn(content_features, mean, std, at::ones({content.size(0)}, mean.options()));
  }
  const at::Tensor output = ComputeNet(DecoderLayers(widths_), decoder_)
                                .Forward(t)
                                .narrow(2, 0, content.size(2))
                                .narrow(3, 0, content.size(3));
  const AdainLossTerms terms = AdainLosses(teacher_, output, targets);
  at::Tensor loss = terms.content + options_.style_weight * terms.style;
  result->content = terms.content.item<double>();
  result->style = terms.style.item<double>();
  if (train_encoder && options_.distill_weight > 0) {
    std::vector<at::Tensor> teacher_taps;
    {
      c10::AutoGradMode no_grad(false);
      teacher_.Forward(content, &teacher_taps);
    }
    const DistillLossTerms distill = DistillLosses(student_taps, teacher_taps, ProjectionPairs());
    result->feature = distill.feature.item<double>();
    result->stats = distill.stats.item<double>();
    loss = loss + options_.distill_weight * (distill.feature + options_.stat_weight * distill.stats);
  }
  return loss;
}

absl::StatusOr<StepResult> Trainer::Step(const Batch& batch) {
  StepResult result;
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(CurrentLr());
  optimizer_->zero_grad();
  const at::Tensor loss = options_.phase == Phase::kDistill ? DistillStep(batch, &result) : AdainStep(batch, &result);
  result.loss = loss.item<double>();
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("the loss is not finite at step ", step_, " (", result.loss,
                                            "); try a lower learning rate"));
  }
  loss.backward();
  optimizer_->step();
  ++step_;
  return result;
}

absl::Status Trainer::SaveCheckpoint(const std::string& dir) const {
  const std::string tmp = dir + ".tmp";
  const std::string old = dir + ".old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", ec.message()));
  RETURN_IF_ERROR(SaveTensorFile(encoder_, tmp + "/encoder.pt"));
  if (!decoder_.empty()) RETURN_IF_ERROR(SaveTensorFile(decoder_, tmp + "/decoder.pt"));
  if (!projections_.empty()) RETURN_IF_ERROR(SaveTensorFile(projections_, tmp + "/projections.pt"));
  try {
    torch::serialize::OutputArchive archive;
    optimizer_->save(archive);
    archive.save_to(tmp + "/" + kOptimizerFile);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot save the optimizer state: ", e.what()));
  }
  {
    std::ofstream out(tmp + "/" + kStateFile);
    out << "phase=" << PhaseName(options_.phase) << "\n"
        << "step=" << step_ << "\n"
        << "widths=" << WidthsString(widths_) << "\n"
        << "lr=" << options_.lr << "\nlr_decay=" << options_.lr_decay << "\nstyle_weight=" << options_.style_weight
        << "\nstat_weight=" << options_.stat_weight << "\ndistill_weight=" << options_.distill_weight << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp, "/", kStateFile));
  }
  // Swap: dir -> dir.old, tmp -> dir, drop dir.old. Resume reads dir.old if a crash comes
  // between the two renames.
  fs::remove_all(old, ec);
  if (fs::exists(dir)) fs::rename(dir, old, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot move ", dir, " aside: ", ec.message()));
  fs::rename(tmp, dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot move ", tmp, " to ", dir, ": ", ec.message()));
  fs::remove_all(old, ec);
  return absl::OkStatus();
}

absl::Status Trainer::Export(const std::string& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  RETURN_IF_ERROR(SaveTensorFile(encoder_, dir + "/encoder.pt", /*half=*/true));
  if (!decoder_.empty()) RETURN_IF_ERROR(SaveTensorFile(decoder_, dir + "/decoder.pt", /*half=*/true));
  return absl::OkStatus();
}

int64_t Trainer::EncoderParameterCount() const {
  int64_t n = 0;
  for (const auto& [name, t] : encoder_) n += t.numel();
  return n;
}

int64_t Trainer::DecoderParameterCount() const {
  int64_t n = 0;
  for (const auto& [name, t] : decoder_) n += t.numel();
  return n;
}

}  // namespace style::train
