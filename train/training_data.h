// Training and evaluation images: folder listing, the held-out split, decoding into memory, and
// random crops.
//
// Images are decoded once (through the project's codec) into uint8 tensors at a bounded size;
// each training step then cuts random crops with scale jitter and flips. Batches depend only on
// (seed, step), so a resumed run sees exactly the batches an uninterrupted run would have seen.
#ifndef STYLE_TRAIN_TRAINING_DATA_H_
#define STYLE_TRAIN_TRAINING_DATA_H_

#include <cstdint>
#include <future>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace style::train {

// The image files (jpg, jpeg, png, webp, tif, tiff, gif; any case) directly inside `dir`,
// sorted by name. NOT_FOUND if `dir` is not a folder.
absl::StatusOr<std::vector<std::string>> ListImages(const std::string& dir);

// The deterministic hold-out rule shared by the trainer and the evaluator: in a folder's sorted
// listing, every tenth file (indices 0, 10, 20, ...) is kept out of training.
constexpr size_t kHeldOutModulus = 10;
inline bool IsHeldOut(size_t sorted_index) { return sorted_index % kHeldOutModulus == 0; }

enum class Split { kTrain, kHeldOut, kAll };

// The files of `sorted_files` (a ListImages result) that belong to `split`.
std::vector<std::string> SelectSplit(const std::vector<std::string>& sorted_files, Split split);

// Decodes `path` to a uint8 [3,H,W] tensor whose shorter side is at most `short_side` (shrunk
// by the codec, never enlarged; 0 keeps the size). INVALID_ARGUMENT for undecodable files.
absl::StatusOr<at::Tensor> LoadImage(const std::string& path, int short_side);

// A set of decoded images held in memory.
class ImagePool {
 public:
  // Loads the files of `dir` in `split`, each with LoadImage(path, short_side). Fails on the
  // first undecodable file, or when the split is empty.
  static absl::StatusOr<ImagePool> Load(const std::string& dir, Split split, int short_side);
  explicit ImagePool(std::vector<at::Tensor> images) : images_(std::move(images)) {}

  size_t size() const { return images_.size(); }
  const at::Tensor& image(size_t i) const { return images_[i]; }
  int64_t bytes() const;

 private:
  std::vector<at::Tensor> images_;
};

struct CropOptions {
  int crop = 256;          // output side
  double min_scale = 0.7;  // the image is scaled by a factor in [min_scale, max_scale] before
  double max_scale = 1.0;  // cropping (never so far that the crop would not fit)
  bool flip = true;        // random horizontal flips
};

// One random crop of `image` (uint8 [3,H,W]) as float [3,crop,crop] in [0,1]. Images whose
// shorter side is under the crop are enlarged to fit.
at::Tensor RandomCrop(const at::Tensor& image, const CropOptions& options, std::mt19937_64& rng);

// `count` random crops from random images of `pool`, stacked: float [count,3,crop,crop].
at::Tensor SampleBatch(const ImagePool& pool, int count, const CropOptions& options, std::mt19937_64& rng);

// The random generator for step `step` of a run seeded with `seed`.
std::mt19937_64 StepRng(uint64_t seed, int64_t step);

struct Batch {
  at::Tensor content;  // float [Nc,3,crop,crop], CPU
  at::Tensor style;    // float [Ns,3,crop,crop], CPU
};

// Makes the batch of each step from a content pool and a style pool, and prepares the next
// `prefetch` steps' batches on background threads while the current step runs (on a GPU a step
// can take less time than cutting its crops on one core).
class BatchSource {
 public:
  // `content_count` and `style_count` images per batch. The pools must outlive the source.
  BatchSource(const ImagePool* content, const ImagePool* style, int content_count, int style_count,
              CropOptions options, uint64_t seed, int prefetch = 4);
  ~BatchSource();
  BatchSource(const BatchSource&) = delete;
  BatchSource& operator=(const BatchSource&) = delete;

  // The batch of `step` (the same for a given seed and step, whatever came before).
  Batch Get(int64_t step);
  // Computes it without prefetching.
  Batch Make(int64_t step) const;

 private:
  const ImagePool* content_;
  const ImagePool* style_;
  int content_count_;
  int style_count_;
  CropOptions options_;
  uint64_t seed_;
  int prefetch_;
  std::map<int64_t, std::future<Batch>> pending_;  // by step
};

}  // namespace style::train

#endif  // STYLE_TRAIN_TRAINING_DATA_H_
