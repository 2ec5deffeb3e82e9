// File and formatting helpers of the styletransfer CLI.
#ifndef STYLE_CLIENT_CLI_UTIL_H_
#define STYLE_CLIENT_CLI_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "styletransfer/v1/style_transfer.pb.h"

namespace style {

// Reads a whole file. NOT_FOUND / PERMISSION_DENIED / INTERNAL with the path in the message.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// Writes a file through a temporary name and a rename, so that readers never see half of it.
// INTERNAL (with the path and errno text) on failure.
absl::Status WriteFileBytes(const std::string& path, absl::string_view data);

// "jpeg"/"jpg", "png", "webp" (any case) -> the format; nullopt otherwise.
std::optional<styletransfer::v1::ImageFormat> FormatFromName(absl::string_view name);

// The output format a file name's extension asks for (.jpg/.jpeg/.png/.webp); nullopt otherwise.
std::optional<styletransfer::v1::ImageFormat> FormatFromPath(absl::string_view path);

// The file extension (without the dot) used for a format: "jpg", "png", "webp".
std::string ExtensionForFormat(styletransfer::v1::ImageFormat format);

// True when the name ends in an input image extension (jpg, jpeg, png, webp, tif, tiff, gif).
bool HasImageExtension(absl::string_view path);

// The regular files with image extensions in `dir` (not recursive), sorted by name.
// NOT_FOUND when `dir` is not a readable directory.
absl::StatusOr<std::vector<std::string>> ListImageFiles(const std::string& dir);

// "<content-stem>__<style-stem>.<extension>".
std::string BatchOutputName(const std::string& content_path, const std::string& style_path,
                            const std::string& extension);

// "[=====>    ] 12/40  3.1 img/s", the bar `width` characters wide between the brackets.
std::string ProgressBar(int64_t done, int64_t total, double rate_per_s, int width = 30);

}  // namespace style

#endif  // STYLE_CLIENT_CLI_UTIL_H_
