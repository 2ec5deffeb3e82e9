// The training and evaluation losses. One definition serves the trainer and the evaluator
// (tools/evaluate.cc), so that both score on the same scale.
//
// All losses are computed in float32 whatever the dtype of the features.
#ifndef STYLE_TRAIN_LOSSES_H_
#define STYLE_TRAIN_LOSSES_H_

#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "server/networks.h"

namespace style::train {

// Mean squared error in float32 (the mean over every element, as nn.MSELoss).
at::Tensor Mse(const at::Tensor& a, const at::Tensor& b);

// What the teacher says a stylization of `content` in the style of `style` should be, computed
// without gradients. For adain-reference.md's losses in the teacher's feature space.
struct TeacherTargets {
  at::Tensor content;  // AdaIN(teacher relu4_1 of the content, statistics of the style's), float32
  // Per-channel {mean, std} of the style at relu1_1..relu4_1, float32 [N,C_i].
  std::vector<std::pair<at::Tensor, at::Tensor>> style_stats;
};

// `teacher` is the VGG encoder; `content` and `style` are [N,3,H,W] batches (any sizes).
TeacherTargets MakeTeacherTargets(const ConvNet& teacher, const at::Tensor& content, const at::Tensor& style);

struct AdainLossTerms {
  at::Tensor content;  // MSE(teacher relu4_1 of the output, targets.content)
  at::Tensor style;    // sum over the four taps of MSE(means) + MSE(stds)
};

// The AdaIN losses of adain-reference.md (Training) for a stylized `output` [N,3,H,W], through
// the teacher. The output's side must equal the content's (the decoder returns sides rounded up
// to multiples of 8: crop first). Differentiable with respect to `output`.
AdainLossTerms AdainLosses(const ConvNet& teacher, const at::Tensor& output, const TeacherTargets& targets);

struct DistillLossTerms {
  at::Tensor feature;  // sum over taps of MSE(projection(student), teacher) / mean(teacher^2)
  at::Tensor stats;    // sum over taps of (MSE(means) + MSE(stds)) / mean(teacher^2)
};

// Distillation of the teacher's relu1_1..relu4_1 into the student's, through learned 1x1
// projections (student C_i -> teacher C_i). Dividing each tap by the teacher's mean square
// makes the four taps count alike although their magnitudes differ. `projections` holds
// {weight [C_T,C_S,1,1], bias [C_T]} per tap.
DistillLossTerms DistillLosses(const std::vector<at::Tensor>& student_taps,
                               const std::vector<at::Tensor>& teacher_taps,
                               const std::vector<std::pair<at::Tensor, at::Tensor>>& projections);

}  // namespace style::train

#endif  // STYLE_TRAIN_LOSSES_H_
