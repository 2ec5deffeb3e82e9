#include "train/losses.h"

#include <c10/core/GradMode.h>

#include "server/adain.h"

namespace style::train {
namespace {

at::Tensor Float(const at::Tensor& t) { return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat); }

}  // namespace

at::Tensor Mse(const at::Tensor& a, const at::Tensor& b) { return (Float(a) - Float(b)).pow(2).mean(); }

TeacherTargets MakeTeacherTargets(const ConvNet& teacher, const at::Tensor& content, const at::Tensor& style) {
  c10::AutoGradMode no_grad(false);
  TeacherTargets targets;
  std::vector<at::Tensor> style_taps;
  teacher.Forward(style, &style_taps);
  for (const at::Tensor& tap : style_taps) targets.style_stats.push_back(MeanStd(tap));
  const at::Tensor content_features = Float(teacher.Forward(content));
  const auto& [mean, std] = targets.style_stats.back();
  targets.content = AdaIn(content_features, mean, std, at::ones({content.size(0)}, mean.options()));
  return targets;
}

AdainLossTerms AdainLosses(const ConvNet& teacher, const at::Tensor& output, const TeacherTargets& targets) {
  std::vector<at::Tensor> taps;
  const at::Tensor features = teacher.Forward(output, &taps);
  AdainLossTerms terms;
  terms.content = Mse(features, targets.content);
  terms.style = at::zeros({}, features.options().dtype(at::kFloat));
  for (size_t i = 0; i < taps.size(); ++i) {
    auto [mean, std] = MeanStd(taps[i]);
    terms.style = terms.style + Mse(mean, targets.style_stats[i].first) + Mse(std, targets.style_stats[i].second);
  }
  return terms;
}

DistillLossTerms DistillLosses(const std::vector<at::Tensor>& student_taps,
                               const std::vector<at::Tensor>& teacher_taps,
                               const std::vector<std::pair<at::Tensor, at::Tensor>>& projections) {
  DistillLossTerms terms;
  terms.feature = at::zeros({}, teacher_taps[0].options().dtype(at::kFloat));
  terms.stats = at::zeros({}, teacher_taps[0].options().dtype(at::kFloat));
  for (size_t i = 0; i < teacher_taps.size(); ++i) {
    const auto& [weight, bias] = projections[i];
    const at::Tensor student = student_taps[i];
    const at::Tensor projected =
        at::conv2d(student, weight.to(student.scalar_type()), bias.to(student.scalar_type()));
    const at::Tensor teacher = Float(teacher_taps[i]);
    // The normaliser is a constant of the batch (the teacher gets no gradient).
    const at::Tensor scale = teacher.pow(2).mean().clamp_min(1e-8).detach();
    terms.feature = terms.feature + Mse(projected, teacher) / scale;
    auto [p_mean, p_std] = MeanStd(projected);
    auto [t_mean, t_std] = MeanStd(teacher);
    terms.stats = terms.stats + (Mse(p_mean, t_mean) + Mse(p_std, t_std)) / scale;
  }
  return terms;
}

}  // namespace style::train
