// Registered styles: id -> the style's statistics, kept in memory. Thread-safe.
#ifndef STYLE_SERVER_STYLE_REGISTRY_H_
#define STYLE_SERVER_STYLE_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/style_model.h"

namespace style {

struct RegisteredStyle {
  std::string id;
  std::string name;
  int width = 0;   // of the image the statistics came from
  int height = 0;
  int64_t created_unix_seconds = 0;
  std::shared_ptr<const StyleStats> stats;
};

class StyleRegistry {
 public:
  explicit StyleRegistry(size_t max_styles) : max_styles_(max_styles) {}

  // The stable id of a style image: "st-" and the first 128 bits of the SHA-256 of its bytes,
  // in hex. The same bytes always give the same id.
  static std::string IdFor(std::string_view image_bytes);

  // Null when `id` is unknown.
  std::shared_ptr<const RegisteredStyle> Find(const std::string& id) const;

  // Adds `style`; returns the entry now stored under its id and whether it was there already
  // (registering twice is not an error). RESOURCE_EXHAUSTED when max_styles are registered.
  absl::StatusOr<std::pair<std::shared_ptr<const RegisteredStyle>, bool>> Insert(RegisteredStyle style);

  // False when `id` is unknown.
  bool Erase(const std::string& id);

  // Every style, ordered by id.
  std::vector<std::shared_ptr<const RegisteredStyle>> List() const;

 private:
  const size_t max_styles_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const RegisteredStyle>> styles_ ABSL_GUARDED_BY(mu_);
};

}  // namespace style

#endif  // STYLE_SERVER_STYLE_REGISTRY_H_
