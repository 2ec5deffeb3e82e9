#include "server/model_weights.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <torch/csrc/jit/serialization/pickle.h>

#include "absl/strings/str_cat.h"

namespace style {
namespace {

// torch.save's zip format is a zip archive; the legacy format starts with a pickle (0x80 0x02).
bool IsZip(const std::vector<char>& data) {
  return data.size() >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
}

bool IsLegacyTorchSave(const std::vector<char>& data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x80 && data[1] == 0x02;
}

}  // namespace

absl::StatusOr<TensorMap> LoadTensorFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("weights file ", path, " does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("weights file ", path, " cannot be read"));
  }
  if (IsLegacyTorchSave(data)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights file ", path,
        " is in torch.save's legacy format, which LibTorch cannot read; convert it once with "
        "tools/convert_weights.py vgg_normalised.pth decoder.pth --out-dir DIR"));
  }
  if (!IsZip(data)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weights file ", path, " is not a torch.save file (no zip header)"));
  }
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(data);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("weights file ", path, " is damaged or truncated: ", e.what()));
  }
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights file ", path, " does not hold a plain dict of tensors (an OrderedDict reads as ",
        value.tagKind(), "; re-save it with tools/convert_weights.py)"));
  }
  TensorMap tensors;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights file ", path, " has an entry that is not a named tensor"));
    }
    const std::string name = entry.key().toStringRef();
    at::Tensor tensor = entry.value().toTensor().to(at::kFloat).contiguous();
    if (!at::isfinite(tensor).all().item<bool>()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights file ", path, ": tensor ", name, " has non-finite values"));
    }
    tensors.emplace(name, std::move(tensor));
  }
  return tensors;
}

absl::Status SaveTensorFile(const TensorMap& tensors, const std::string& path, bool half) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) {
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    dict.insert(name, half ? t.to(at::kHalf) : t.to(at::kFloat));
  }
  try {
    std::vector<char> data = torch::jit::pickle_save(c10::IValue(dict));
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    }
    std::filesystem::rename(tmp, path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot save ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace style
