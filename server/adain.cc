#include "server/adain.h"

namespace style {
namespace {

// The square root of a symmetric positive-definite 3x3 matrix, via SVD as in the reference.
at::Tensor MatrixSqrt(const at::Tensor& m) {
  auto [u, s, vh] = at::linalg_svd(m, /*full_matrices=*/false);
  return at::mm(at::mm(u, at::diag(s.sqrt())), vh);
}

}  // namespace

std::pair<at::Tensor, at::Tensor> MeanStd(const at::Tensor& features) {
  const at::Tensor flat = features.flatten(2);
  // Accumulate in float32 even for half-precision features.
  const at::Tensor f32 = flat.scalar_type() == at::kFloat ? flat : flat.to(at::kFloat);
  at::Tensor mean = f32.mean(2);
  at::Tensor std = (f32.var(2, /*unbiased=*/true) + kAdainEpsilon).sqrt();
  return {mean, std};
}

at::Tensor AdaIn(const at::Tensor& features, const at::Tensor& target_mean, const at::Tensor& target_std,
                 const at::Tensor& alpha) {
  auto [mean, std] = MeanStd(features);
  // Fold everything into one scale and shift per (sample, channel):
  //   out = f * (alpha * ts / s + 1 - alpha) + alpha * (tm - m * ts / s)
  const at::Tensor a = alpha.to(at::kFloat).view({-1, 1});
  const at::Tensor ratio = target_std.to(at::kFloat) / std;
  const at::Tensor scale = a * ratio + (1 - a);
  const at::Tensor shift = a * (target_mean.to(at::kFloat) - mean * ratio);
  const auto dtype = features.scalar_type();
  return features * scale.to(dtype).unsqueeze(-1).unsqueeze(-1) + shift.to(dtype).unsqueeze(-1).unsqueeze(-1);
}

at::Tensor CoralTransfer(const at::Tensor& style, const at::Tensor& content) {
  const at::Tensor eye = at::eye(3, style.options());
  auto standardise = [](const at::Tensor& image, at::Tensor* mean, at::Tensor* std) {
    const at::Tensor flat = image.reshape({3, -1});
    *mean = flat.mean(-1, /*keepdim=*/true);
    // A flat-coloured image has zero spread; the floor keeps it finite.
    *std = flat.std(-1, /*unbiased=*/true, /*keepdim=*/true).clamp_min(1e-5);
    return (flat - *mean) / *std;
  };
  at::Tensor style_mean, style_std, content_mean, content_std;
  const at::Tensor xs = standardise(style, &style_mean, &style_std);
  const at::Tensor xt = standardise(content, &content_mean, &content_std);
  const at::Tensor cs = at::mm(xs, xs.t()) + eye;
  const at::Tensor ct = at::mm(xt, xt.t()) + eye;
  const at::Tensor transferred = at::mm(MatrixSqrt(ct), at::mm(at::inverse(MatrixSqrt(cs)), xs));
  return (transferred * content_std + content_mean).view(style.sizes());
}

}  // namespace style
