#include "tests/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include <gtest/gtest.h>

namespace style::testing {
namespace {

uint32_t Crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void AppendBigEndian(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendPngChunk(std::string* out, std::string_view type, std::string_view data) {
  AppendBigEndian(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type) + std::string(data);
  out->append(body);
  AppendBigEndian(out, Crc32(body));
}

}  // namespace


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

vips::VImage ToVips(const RgbImage& image) {
  // copy_memory() would not copy: the image is in memory already.
  VipsImage* copy = vips_image_new_from_memory_copy(image.pixels.data(), image.pixels.size(), image.width,
                                                    image.height, 3, VIPS_FORMAT_UCHAR);
  if (copy == nullptr) throw vips::VError();
  return vips::VImage(copy);
}

std::string SaveWithVips(const vips::VImage& image, const char* suffix) {
  void* buffer = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &buffer, &size);
  std::string out(static_cast<const char*>(buffer), size);
  g_free(buffer);
  return out;
}

std::string DefaultModelDir() {
  const char* source_dir = std::getenv("STYLE_SOURCE_DIR");
  const std::string dir = std::string(source_dir == nullptr ? "." : source_dir) + "/models/default";
  if (!std::filesystem::exists(dir + "/encoder.pt") || !std::filesystem::exists(dir + "/decoder.pt")) {
    ADD_FAILURE() << "the built-in model is missing: " << dir << "/{encoder,decoder}.pt";
  }
  return dir;
}

std::string ConvertedVggWeights() {
  static const std::string dir = [] {
    const char* binary_dir = std::getenv("STYLE_BINARY_DIR");
    const char* source_dir = std::getenv("STYLE_SOURCE_DIR");
    if (binary_dir == nullptr || source_dir == nullptr) return std::string();
    const std::string out = std::string(binary_dir) + "/models/adain-vgg19";
    const std::string shared = SharedDir() + "/models/adain-vgg19";
    const std::string command = "/usr/bin/python3 " + std::string(source_dir) + "/tools/convert_weights.py " +
                                shared + "/vgg_normalised.pth " + shared + "/decoder.pth --out-dir " + out +
                                " > /dev/null";
    return std::system(command.c_str()) == 0 ? out : std::string();
  }();
  return dir;
}

std::string PngWithHeader(uint32_t width, uint32_t height) {
  std::string png("\x89PNG\r\n\x1A\n", 8);
  std::string ihdr;
  AppendBigEndian(&ihdr, width);
  AppendBigEndian(&ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no interlace
  AppendPngChunk(&png, "IHDR", ihdr);
  AppendPngChunk(&png, "IDAT", std::string("\x78\x9C\x03\x00\x00\x00\x00\x01", 8));
  AppendPngChunk(&png, "IEND", "");
  return png;
}


std::string Png(int width, int height, unsigned seed) {
  auto png = EncodeImage(MakeTestPattern(width, height, seed), OutputFormat::kPng, 90);
  EXPECT_TRUE(png.ok()) << png.status();
  return png.ok() ? *png : "";
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) ADD_FAILURE() << "write";
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 && response.rfind("HTTP/1.0 200", 0) != 0) {
    ADD_FAILURE() << "GET " << path << " answered: " << response.substr(0, 200);
    return "";
  }
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::map<std::string, double> ParsePrometheusText(const std::string& text) {
  static const std::regex kSample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? ([-+]?([0-9.eE+-]+|[Ii]nf|[Nn]a[Nn]))$)re");
  static const std::regex kMeta(R"re(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)re");
  std::map<std::string, double> series;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::smatch m;
    if (line[0] == '#') {
      if (!std::regex_match(line, m, kMeta)) {
        ADD_FAILURE() << "malformed comment line: " << line;
      } else if (m[1] == "TYPE") {
        typed.insert(m[2]);
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "malformed sample line: " << line;
      continue;
    }
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (!typed.count(family) && family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0) {
        family.resize(family.size() - s.size());
      }
    }
    if (!typed.count(family)) ADD_FAILURE() << "sample before its # TYPE line: " << line;
    const std::string value = m[5];
    series[name + std::string(m[2])] = std::strtod(value.c_str(), nullptr);  // parses Inf and NaN too
  }
  return series;
}

}  // namespace style::testing
