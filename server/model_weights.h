// Reading network weights from disk into named tensors.
//
// The format is a plain dict of tensors saved by torch.save (zip format), which is what
// tools/convert_weights.py writes from the files users download. Legacy-format files (the
// original pytorch-AdaIN downloads) are recognised and refused with the conversion command.
#ifndef STYLE_SERVER_MODEL_WEIGHTS_H_
#define STYLE_SERVER_MODEL_WEIGHTS_H_

#include <map>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace style {

// Tensor name ("2.weight") to tensor, float32 on the CPU, contiguous.
using TensorMap = std::map<std::string, at::Tensor>;

// Loads `path`. Errors (each naming the file):
//   NOT_FOUND         no such file
//   INVALID_ARGUMENT  legacy torch.save format (says how to convert), not a dict of tensors,
//                     damaged or truncated data, or a tensor with non-finite values (named)
absl::StatusOr<TensorMap> LoadTensorFile(const std::string& path);

// Writes `tensors` in the format LoadTensorFile reads (used by the trainer and tests).
// `half` stores float16. INTERNAL if the file cannot be written.
absl::Status SaveTensorFile(const TensorMap& tensors, const std::string& path, bool half = false);

}  // namespace style

#endif  // STYLE_SERVER_MODEL_WEIGHTS_H_
