// The AdaIN operations of ../shared/docs/adain-reference.md, on tensors.
#ifndef STYLE_SERVER_ADAIN_H_
#define STYLE_SERVER_ADAIN_H_

#include <ATen/ATen.h>

namespace style {

constexpr double kAdainEpsilon = 1e-5;

// Per-sample, per-channel mean and standard deviation over H*W of `features` [N,C,H,W]:
// std = sqrt(unbiased variance + 1e-5). Returns {mean, std}, each [N,C]. Needs H*W >= 2.
std::pair<at::Tensor, at::Tensor> MeanStd(const at::Tensor& features);

// AdaIN with a per-sample content-style trade-off:
//   t = (f - mean_f) / std_f * target_std + target_mean;  out = alpha * t + (1 - alpha) * f
// `features` [N,C,H,W]; `target_mean`, `target_std` [N,C]; `alpha` [N].
// Several styles with weights w_k: since t is affine in (target_mean, target_std), the
// weighted sum of AdaIN outputs equals AdaIN towards sum_k w_k mean_k and sum_k w_k std_k
// (weights summing to 1), so interpolation mixes the statistics (MixStyles) first.
at::Tensor AdaIn(const at::Tensor& features, const at::Tensor& target_mean, const at::Tensor& target_std,
                 const at::Tensor& alpha);

// Colour preservation (CORAL): returns `style` [3,H,W] with its pixel colour distribution
// matched to that of `content` [3,H',W'], as in the reference. Float32 CPU tensors.
at::Tensor CoralTransfer(const at::Tensor& style, const at::Tensor& content);

}  // namespace style

#endif  // STYLE_SERVER_ADAIN_H_
