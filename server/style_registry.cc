#include "server/style_registry.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace style {

std::string StyleRegistry::IdFor(std::string_view image_bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(image_bytes.data()), image_bytes.size(), digest);
  return absl::StrCat("st-", absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16)));
}

std::shared_ptr<const RegisteredStyle> StyleRegistry::Find(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = styles_.find(id);
  return it == styles_.end() ? nullptr : it->second;
}

absl::StatusOr<std::pair<std::shared_ptr<const RegisteredStyle>, bool>> StyleRegistry::Insert(RegisteredStyle style) {
  absl::MutexLock lock(&mu_);
  if (auto it = styles_.find(style.id); it != styles_.end()) return std::make_pair(it->second, true);
  if (styles_.size() >= max_styles_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server holds its limit of ", max_styles_, " registered styles; delete some first"));
  }
  auto entry = std::make_shared<const RegisteredStyle>(std::move(style));
  styles_.emplace(entry->id, entry);
  return std::make_pair(entry, false);
}

bool StyleRegistry::Erase(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return styles_.erase(id) > 0;
}

std::vector<std::shared_ptr<const RegisteredStyle>> StyleRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<const RegisteredStyle>> out;
  out.reserve(styles_.size());
  for (const auto& [id, style] : styles_) out.push_back(style);
  return out;
}

}  // namespace style
