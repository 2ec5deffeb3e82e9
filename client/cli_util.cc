#include "client/cli_util.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace style {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::styletransfer::v1;

std::string LowerExtension(absl::string_view path) {
  std::string extension = fs::path(std::string(path)).extension().string();
  if (!extension.empty()) extension.erase(0, 1);
  return absl::AsciiStrToLower(extension);
}

absl::Status ErrnoStatus(int error, absl::string_view what, const std::string& path) {
  const std::string message = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) return ErrnoStatus(EISDIR, "read", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno, "read", path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return ErrnoStatus(errno, "read", path);
  return data;
}

absl::Status WriteFileBytes(const std::string& path, absl::string_view data) {
  const std::string temporary = absl::StrCat(path, ".tmp", getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return ErrnoStatus(errno, "write", path);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      const int error = errno;
      std::remove(temporary.c_str());
      return ErrnoStatus(error, "write", path);
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    return ErrnoStatus(error, "write", path);
  }
  return absl::OkStatus();
}

std::optional<v1::ImageFormat> FormatFromName(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "jpeg" || lower == "jpg") return v1::IMAGE_FORMAT_JPEG;
  if (lower == "png") return v1::IMAGE_FORMAT_PNG;
  if (lower == "webp") return v1::IMAGE_FORMAT_WEBP;
  return std::nullopt;
}

std::optional<v1::ImageFormat> FormatFromPath(absl::string_view path) {
  const std::string extension = LowerExtension(path);
  if (extension.empty()) return std::nullopt;
  return FormatFromName(extension);
}

std::string ExtensionForFormat(v1::ImageFormat format) {
  switch (format) {
    case v1::IMAGE_FORMAT_PNG:
      return "png";
    case v1::IMAGE_FORMAT_WEBP:
      return "webp";
    default:
      return "jpg";
  }
}

bool HasImageExtension(absl::string_view path) {
  static constexpr absl::string_view kExtensions[] = {"jpg", "jpeg", "png", "webp",
                                                      "tif", "tiff", "gif"};
  const std::string extension = LowerExtension(path);
  return std::find(std::begin(kExtensions), std::end(kExtensions), extension) !=
         std::end(kExtensions);
}

absl::StatusOr<std::vector<std::string>> ListImageFiles(const std::string& dir) {
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot list ", dir, ": ", error.message()));
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : it) {
    std::error_code entry_error;
    if (entry.is_regular_file(entry_error) && HasImageExtension(entry.path().string())) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string BatchOutputName(const std::string& content_path, const std::string& style_path,
                            const std::string& extension) {
  return absl::StrCat(fs::path(content_path).stem().string(), "__",
                      fs::path(style_path).stem().string(), ".", extension);
}

std::string ProgressBar(int64_t done, int64_t total, double rate_per_s, int width) {
  const double fraction =
      total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0)
                : 1.0;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(static_cast<size_t>(width), ' ');
  return absl::StrFormat("[%s] %d/%d  %.1f img/s", bar, done, total, rate_per_s);
}

}  // namespace style
