#include "tests/test_support.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace style::testing {

std::string SharedDir() {
  const char* dir = std::getenv("STYLE_SHARED_DIR");
  return dir != nullptr ? dir : "../shared";
}

bool RequireShared(const std::string& relative_path) {
  const std::string path = SharedDir() + "/" + relative_path;
  if (std::filesystem::exists(path)) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    ADD_FAILURE() << "CI=true and " << path << " is missing: this test needs ../shared";
  }
  return false;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

RgbImage MakeTestPattern(int width, int height, unsigned seed) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      const bool in_disc = (x - width / 2) * (x - width / 2) + (y - height / 3) * (y - height / 3) <
                           (width * width) / 16;
      p[0] = static_cast<uint8_t>((x * 255) / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>((y * 255) / std::max(1, height - 1));
      p[2] = in_disc ? static_cast<uint8_t>(200 + seed * 13 % 50) : static_cast<uint8_t>(((x / 8 + y / 8) % 2) * 120 + seed * 31 % 100);
    }
  }
  return image;
}

}  // namespace style::testing
