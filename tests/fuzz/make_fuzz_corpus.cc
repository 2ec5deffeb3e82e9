// Writes the generated seed corpus: OUT/decode_image/* and OUT/validate_request/*.
//   make_fuzz_corpus OUT
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/fuzz/fuzz_targets.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  const std::pair<const char*, std::vector<std::pair<std::string, std::string>>> targets[] = {
      {"decode_image", style::fuzz::DecodeImageSeeds()},
      {"validate_request", style::fuzz::ValidateRequestSeeds()},
  };
  for (const auto& [target, seeds] : targets) {
    const fs::path dir = fs::path(argv[1]) / target;
    fs::create_directories(dir);
    for (const auto& [name, bytes] : seeds) {
      std::ofstream out(dir / name, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
        return 1;
      }
    }
    std::printf("%s: %zu seeds in %s\n", target, seeds.size(), dir.c_str());
  }
  return 0;
}
