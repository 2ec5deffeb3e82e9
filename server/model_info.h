// What the service reports about the loaded model (metrics, logs).
#ifndef STYLE_SERVER_MODEL_INFO_H_
#define STYLE_SERVER_MODEL_INFO_H_

#include <cstdint>
#include <string>

namespace style {

struct ModelInfo {
  std::string name;            // e.g. "adain-vgg19"
  std::string device;          // e.g. "cpu", "cuda:0"
  std::string dtype;           // "float32", "float16", "bfloat16"
  int64_t feature_channels = 0;  // C of StyleStats
  int64_t parameters = 0;
};

}  // namespace style

#endif  // STYLE_SERVER_MODEL_INFO_H_
