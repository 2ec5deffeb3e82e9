// style_train: trains the project's compact AdaIN model (see train/trainer.h and
// docs/training.md).
//
//   style_train --phase=distill --teacher_dir=models/adain-vgg19 --content_dir=D/content
//       --style_dir=D/style --checkpoint_dir=ckpt/distill --steps=3000 --batch_size=16
//   style_train --phase=decoder --init_from=ckpt/distill ... --checkpoint_dir=ckpt/decoder
//   style_train ... --resume                 # continue the run in --checkpoint_dir
//   style_train ... --export=models/default  # fp16 server model folder at the end
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include <ATen/Parallel.h>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/device.h"
#include "server/status_util.h"
#include "train/train_loop.h"
#include "train/trainer.h"
#include "train/training_data.h"

ABSL_FLAG(std::string, phase, "distill", "distill, decoder or joint");
ABSL_FLAG(std::string, teacher_dir, "", "folder with the VGG19 encoder.pt (tools/convert_weights.py; fp16 is fine)");
ABSL_FLAG(std::string, content_dir, "", "folder of content photos (every tenth file is held out)");
ABSL_FLAG(std::string, style_dir, "", "folder of style images (every tenth file is held out)");
ABSL_FLAG(std::string, checkpoint_dir, "", "checkpoint folder (written; with --resume also read)");
ABSL_FLAG(bool, resume, false, "continue the run saved in --checkpoint_dir (which must exist)");
ABSL_FLAG(std::string, init_from, "",
          "model or checkpoint folder to start a new run from (decoder: the distilled encoder; joint: both)");
ABSL_FLAG(std::string, export_dir, "", "at the end, write a server model folder (fp16 encoder.pt, decoder.pt) here");
ABSL_FLAG(std::string, csv, "", "loss log CSV (default: <checkpoint_dir>.csv)");
ABSL_FLAG(std::string, widths, "32,64,128,256", "student widths at relu1_1..relu4_1 (fresh distill runs)");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N");
ABSL_FLAG(std::string, precision, "auto", "fp32, bf16, or auto (bf16 on CUDA, fp32 on the CPU)");
ABSL_FLAG(std::string, padding, "auto", "reflect, fix (zero pad + exact border), or auto (fix on CUDA)");
ABSL_FLAG(bool, channels_last, false, "NHWC layout (try on GPUs)");
ABSL_FLAG(int, batch_size, 8, "images per step (decoder, joint: content/style pairs; distill: half of each)");
ABSL_FLAG(int, crop, 256, "crop side (a multiple of 8)");
ABSL_FLAG(int, content_side, 320, "content images are shrunk so that their shorter side is at most this");
ABSL_FLAG(int, style_side, 384, "style images likewise");
ABSL_FLAG(double, min_scale, 0.7, "random scale jitter before cropping: [min_scale, 1]");
ABSL_FLAG(int64_t, steps, 1000, "train until this many steps in all (a resumed run counts its earlier ones)");
ABSL_FLAG(int, log_every, 50, "log (and average the losses) every this many steps");
ABSL_FLAG(int, checkpoint_every, 1000, "checkpoint every this many steps (and always at the end)");
ABSL_FLAG(double, max_seconds, 0, "stop and checkpoint before this many seconds since start (0: no limit)");
ABSL_FLAG(double, lr, 1e-4, "Adam learning rate");
ABSL_FLAG(double, lr_decay, 5e-5, "lr / (1 + lr_decay * step)");
ABSL_FLAG(double, style_weight, 10, "lambda in content + lambda * style");
ABSL_FLAG(double, stat_weight, 1, "distill: weight of the per-channel mean/std term");
ABSL_FLAG(double, distill_weight, 0, "joint: weight of the distillation term");
ABSL_FLAG(uint64_t, seed, 1, "seed of the weight initialisation and the data order");
ABSL_FLAG(int, torch_threads, 0, "LibTorch intra-op threads (0: LibTorch's default)");

namespace style::train {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

absl::StatusOr<TrainerOptions> OptionsFromFlags() {
  TrainerOptions options;
  ASSIGN_OR_RETURN(options.phase, ParsePhase(absl::GetFlag(FLAGS_phase)));
  ASSIGN_OR_RETURN(options.widths, ParseWidths(absl::GetFlag(FLAGS_widths)));
  options.device = absl::GetFlag(FLAGS_device);
  const bool cuda = options.device.rfind("cuda", 0) == 0;
  const std::string precision = absl::GetFlag(FLAGS_precision);
  if (precision != "auto" && precision != "fp32" && precision != "bf16") {
    return absl::InvalidArgumentError("--precision: use fp32, bf16 or auto");
  }
  options.bf16 = precision == "bf16" || (precision == "auto" && cuda);
  const std::string padding = absl::GetFlag(FLAGS_padding);
  if (padding != "auto" && padding != "reflect" && padding != "fix") {
    return absl::InvalidArgumentError("--padding: use reflect, fix or auto");
  }
  options.padding = padding == "fix" || (padding == "auto" && cuda) ? PaddingImpl::kZeroPadFixBorder
                                                                     : PaddingImpl::kReflectPad;
  options.channels_last = absl::GetFlag(FLAGS_channels_last);
  options.lr = absl::GetFlag(FLAGS_lr);
  options.lr_decay = absl::GetFlag(FLAGS_lr_decay);
  options.style_weight = absl::GetFlag(FLAGS_style_weight);
  options.stat_weight = absl::GetFlag(FLAGS_stat_weight);
  options.distill_weight = absl::GetFlag(FLAGS_distill_weight);
  options.seed = absl::GetFlag(FLAGS_seed);
  return options;
}

absl::StatusOr<std::unique_ptr<Trainer>> MakeTrainer(const TrainerOptions& options, const ConvNet& teacher) {
  const std::string checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  if (absl::GetFlag(FLAGS_resume)) return Trainer::Resume(options, teacher, checkpoint_dir);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(checkpoint_dir) / "trainer_state.txt", ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(checkpoint_dir, " holds a checkpoint: pass --resume to continue it, or remove it"));
  }
  return Trainer::Create(options, teacher, absl::GetFlag(FLAGS_init_from));
}

absl::Status Run(std::chrono::steady_clock::time_point start) {
  ASSIGN_OR_RETURN(const TrainerOptions options, OptionsFromFlags());
  const int crop = absl::GetFlag(FLAGS_crop);
  if (crop < 16 || crop % 8 != 0) return absl::InvalidArgumentError("--crop must be a multiple of 8, at least 16");
  if (absl::GetFlag(FLAGS_checkpoint_dir).empty()) return absl::InvalidArgumentError("--checkpoint_dir is required");
  if (absl::GetFlag(FLAGS_torch_threads) > 0) at::set_num_threads(absl::GetFlag(FLAGS_torch_threads));
  ConfigureCudaForInference();  // TF32 and cuDNN autotuning: the same settings suit training

  ASSIGN_OR_RETURN(const ConvNet teacher, LoadEncoder(absl::GetFlag(FLAGS_teacher_dir)));
  ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, MakeTrainer(options, teacher));
  std::printf("phase %s, step %lld, student widths %s: encoder %lld parameters, decoder %lld; device %s, %s\n",
              PhaseName(options.phase), static_cast<long long>(trainer->step()),
              WidthsString(trainer->widths()).c_str(), static_cast<long long>(trainer->EncoderParameterCount()),
              static_cast<long long>(trainer->DecoderParameterCount()), options.device.c_str(),
              options.bf16 ? "bf16" : "fp32");

  if (trainer->step() < absl::GetFlag(FLAGS_steps)) {
    ASSIGN_OR_RETURN(ImagePool content,
                     ImagePool::Load(absl::GetFlag(FLAGS_content_dir), Split::kTrain, absl::GetFlag(FLAGS_content_side)));
    ASSIGN_OR_RETURN(ImagePool style,
                     ImagePool::Load(absl::GetFlag(FLAGS_style_dir), Split::kTrain, absl::GetFlag(FLAGS_style_side)));
    std::printf("data: %zu content and %zu style training images (%.0f MB decoded), %.1f s since start\n",
                content.size(), style.size(), (content.bytes() + style.bytes()) / 1e6,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const auto [content_count, style_count] = Trainer::BatchCounts(options.phase, absl::GetFlag(FLAGS_batch_size));
    CropOptions crop_options;
    crop_options.crop = crop;
    crop_options.min_scale = absl::GetFlag(FLAGS_min_scale);
    BatchSource source(&content, &style, content_count, style_count, crop_options, options.seed);

    LoopOptions loop;
    loop.steps = absl::GetFlag(FLAGS_steps);
    loop.batch_size = absl::GetFlag(FLAGS_batch_size);
    loop.log_every = std::max(1, absl::GetFlag(FLAGS_log_every));
    loop.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
    loop.max_seconds = absl::GetFlag(FLAGS_max_seconds);
    loop.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
    loop.csv_path = absl::GetFlag(FLAGS_csv).empty() ? loop.checkpoint_dir + ".csv" : absl::GetFlag(FLAGS_csv);
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    ASSIGN_OR_RETURN(LoopResult result, RunTraining(*trainer, source, loop, start, &g_stop));
    std::printf("%s at step %lld\n", result.stopped_early ? "stopped early" : "done",
                static_cast<long long>(trainer->step()));
  }
  if (!absl::GetFlag(FLAGS_export_dir).empty()) {
    RETURN_IF_ERROR(trainer->Export(absl::GetFlag(FLAGS_export_dir)));
    std::printf("exported the model (fp16) to %s\n", absl::GetFlag(FLAGS_export_dir).c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace style::train

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  // A crash prints its stack to stderr: long GPU runs are read from their logs afterwards.
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
  absl::SetProgramUsageMessage("Trains the compact AdaIN model; see docs/training.md");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = style::train::Run(start);
  if (!status.ok()) {
    std::fprintf(stderr, "style_train: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
