#include "train/training_data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/image_codec.h"
#include "server/status_util.h"

namespace style::train {
namespace {

bool HasImageExtension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* known : {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif"}) {
    if (ext == known) return true;
  }
  return false;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListImages(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, " is not a folder"));
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && HasImageExtension(entry.path())) files.push_back(entry.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> SelectSplit(const std::vector<std::string>& sorted_files, Split split) {
  std::vector<std::string> out;
  for (size_t i = 0; i < sorted_files.size(); ++i) {
    if (split == Split::kAll || (split == Split::kHeldOut) == IsHeldOut(i)) out.push_back(sorted_files[i]);
  }
  return out;
}

absl::StatusOr<at::Tensor> LoadImage(const std::string& path, int short_side) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  const DecodeLimits limits;
  auto header = ProbeImage(bytes, limits);
  if (!header.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", header.status().message()));
  // The codec bounds the longer side; choose it so that the shorter side lands on short_side.
  int fit = 0;
  const int shorter = std::min(header->width, header->height);
  const int longer = std::max(header->width, header->height);
  if (short_side > 0 && shorter > short_side) {
    fit = static_cast<int>(std::ceil(static_cast<double>(longer) * short_side / shorter));
  }
  auto image = DecodeImage(bytes, limits, fit);
  if (!image.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", image.status().message()));
  at::Tensor hwc = at::from_blob(image->pixels.data(), {image->height, image->width, 3}, at::kByte);
  return hwc.permute({2, 0, 1}).contiguous();  // contiguous() copies out of the RgbImage
}

absl::StatusOr<ImagePool> ImagePool::Load(const std::string& dir, Split split, int short_side) {
  ASSIGN_OR_RETURN(std::vector<std::string> all, ListImages(dir));
  const std::vector<std::string> files = SelectSplit(all, split);
  if (files.empty()) return absl::InvalidArgumentError(absl::StrCat(dir, " has no images in this split"));
  std::vector<at::Tensor> images;
  images.reserve(files.size());
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(at::Tensor image, LoadImage(file, short_side));
    images.push_back(std::move(image));
  }
  return ImagePool(std::move(images));
}

int64_t ImagePool::bytes() const {
  int64_t n = 0;
  for (const at::Tensor& image : images_) n += image.numel();
  return n;
}

at::Tensor RandomCrop(const at::Tensor& image, const CropOptions& options, std::mt19937_64& rng) {
  const int64_t h = image.size(1);
  const int64_t w = image.size(2);
  std::uniform_real_distribution<double> scale_dist(options.min_scale, options.max_scale);
  const double scale = scale_dist(rng);
  // The source square that becomes the crop: crop / scale pixels, at most the shorter side.
  const int64_t side = std::min<int64_t>(std::min(h, w), std::llround(options.crop / scale));
  std::uniform_int_distribution<int64_t> y_dist(0, h - side);
  std::uniform_int_distribution<int64_t> x_dist(0, w - side);
  const int64_t y = y_dist(rng);
  const int64_t x = x_dist(rng);
  const bool flip = options.flip && std::bernoulli_distribution(0.5)(rng);
  at::Tensor region = image.narrow(1, y, side).narrow(2, x, side).to(at::kFloat).div(255.0).unsqueeze(0);
  if (side != options.crop) {
    region = at::upsample_bilinear2d(region, {options.crop, options.crop}, /*align_corners=*/false);
  }
  if (flip) region = region.flip({3});
  return region.squeeze(0).clamp(0, 1);
}

at::Tensor SampleBatch(const ImagePool& pool, int count, const CropOptions& options, std::mt19937_64& rng) {
  std::vector<at::Tensor> crops;
  crops.reserve(count);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  for (int i = 0; i < count; ++i) crops.push_back(RandomCrop(pool.image(pick(rng)), options, rng));
  return at::stack(crops);
}

std::mt19937_64 StepRng(uint64_t seed, int64_t step) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(step),
                    static_cast<uint32_t>(static_cast<uint64_t>(step) >> 32)};
  return std::mt19937_64(seq);
}

BatchSource::BatchSource(const ImagePool* content, const ImagePool* style, int content_count, int style_count,
                         CropOptions options, uint64_t seed, int prefetch)
    : content_(content),
      style_(style),
      content_count_(content_count),
      style_count_(style_count),
      options_(options),
      seed_(seed),
      prefetch_(prefetch) {}

// The futures of std::async wait for their task when destroyed, so no task outlives the source.
BatchSource::~BatchSource() = default;

Batch BatchSource::Make(int64_t step) const {
  std::mt19937_64 rng = StepRng(seed_, step);
  Batch batch;
  if (content_count_ > 0) batch.content = SampleBatch(*content_, content_count_, options_, rng);
  if (style_count_ > 0) batch.style = SampleBatch(*style_, style_count_, options_, rng);
  return batch;
}

Batch BatchSource::Get(int64_t step) {
  // Drop what a jump in the step sequence made useless; start whatever is missing.
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = (it->first < step || it->first > step + prefetch_) ? pending_.erase(it) : std::next(it);
  }
  for (int64_t k = step; k <= step + prefetch_; ++k) {
    if (pending_.count(k) == 0) pending_[k] = std::async(std::launch::async, [this, k] { return Make(k); });
  }
  auto it = pending_.find(step);
  Batch batch = it->second.get();
  pending_.erase(it);
  return batch;
}

}  // namespace style::train
