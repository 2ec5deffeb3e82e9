// The model: network shapes, AdaIN maths, weight loading errors, and parity with the
// independent Python implementation of the reference (tools/adain_reference.py) on the real
// weights from ../shared.
#include "server/adain_model.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/adain.h"
#include "server/tensor_image.h"
#include "tests/test_support.h"

namespace style {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TensorMap RandomWeights(const std::vector<Layer>& layers) {
  TensorMap weights;
  for (const Layer& layer : layers) {
    if (layer.kind != Layer::Kind::kConv) continue;
    weights[absl::StrCat(layer.index, ".weight")] =
        at::randn({layer.out_channels, layer.in_channels, layer.kernel, layer.kernel}) * 0.05;
    weights[absl::StrCat(layer.index, ".bias")] = at::randn({layer.out_channels}) * 0.01;
  }
  return weights;
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / absl::StrCat("style_test_", name, "_", getpid());
  fs::create_directories(dir);
  return dir;
}

TEST(NetworksTest, VggShapesHaveTheReferenceParameterCounts) {
  const NetworkWidths vgg;
  auto encoder = ConvNet::Create(EncoderLayers(vgg), RandomWeights(EncoderLayers(vgg)), "enc");
  auto decoder = ConvNet::Create(DecoderLayers(vgg), RandomWeights(DecoderLayers(vgg)), "dec");
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  EXPECT_EQ(encoder->ParameterCount(), 3505740);
  EXPECT_EQ(decoder->ParameterCount(), 3505219);
  // The port's module indices: relu4_1's convolution is module 29, the decoder's last is 28.
  EXPECT_EQ(EncoderLayers(vgg).back().index, 30);
  EXPECT_EQ(DecoderLayers(vgg).back().index, 28);
}

TEST(NetworksTest, EncoderTapsAndDecoderRoundsSidesUpToMultiplesOfEight) {
  const NetworkWidths small{4, 8, 8, 16};
  auto encoder = ConvNet::Create(EncoderLayers(small), RandomWeights(EncoderLayers(small)), "enc");
  auto decoder = ConvNet::Create(DecoderLayers(small), RandomWeights(DecoderLayers(small)), "dec");
  ASSERT_TRUE(encoder.ok() && decoder.ok());
  std::vector<at::Tensor> taps;
  at::Tensor f = encoder->Forward(at::rand({1, 3, 41, 30}), &taps);
  ASSERT_EQ(taps.size(), 4u);
  EXPECT_EQ(taps[0].sizes(), at::IntArrayRef({1, 4, 41, 30}));
  EXPECT_EQ(f.sizes(), at::IntArrayRef({1, 16, 6, 4}));  // ceil-mode pooling: 41 -> 21 -> 11 -> 6
  EXPECT_EQ(decoder->Forward(f).sizes(), at::IntArrayRef({1, 3, 48, 32}));
}

TEST(NetworksTest, ZeroPadWithBorderFixEqualsReflectionPadding) {
  const NetworkWidths small{4, 8, 8, 16};
  auto encoder = ConvNet::Create(EncoderLayers(small), RandomWeights(EncoderLayers(small)), "enc");
  auto decoder = ConvNet::Create(DecoderLayers(small), RandomWeights(DecoderLayers(small)), "dec");
  ASSERT_TRUE(encoder.ok() && decoder.ok());
  const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
  for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    ConvNet fast_encoder = encoder->To(f32, format, PaddingImpl::kZeroPadFixBorder);
    ConvNet fast_decoder = decoder->To(f32, format, PaddingImpl::kZeroPadFixBorder);
    for (auto [h, w] : {std::pair{16, 16}, std::pair{17, 40}, std::pair{33, 9 + 8}, std::pair{64, 23}}) {
      at::Tensor x = at::rand({2, 3, h, w}).contiguous(format);
      std::vector<at::Tensor> taps, fast_taps;
      at::Tensor reference = decoder->Forward(encoder->Forward(x, &taps));
      at::Tensor fast = fast_decoder.Forward(fast_encoder.Forward(x, &fast_taps));
      EXPECT_TRUE(at::allclose(fast, reference, 1e-4, 1e-5)) << h << "x" << w;
      for (size_t i = 0; i < taps.size(); ++i) EXPECT_TRUE(at::allclose(fast_taps[i], taps[i], 1e-4, 1e-5));
    }
  }
}

TEST(NetworksTest, MisshapenOrMissingTensorIsNamed) {
  const NetworkWidths vgg;
  TensorMap weights = RandomWeights(DecoderLayers(vgg));
  weights["11.weight"] = at::zeros({256, 256, 1, 1});
  auto bad = ConvNet::Create(DecoderLayers(vgg), weights, "decoder.pt");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("decoder.pt"));
  EXPECT_THAT(bad.status().message(), HasSubstr("11.weight"));
  weights.erase("28.bias");
  weights["11.weight"] = at::zeros({256, 256, 3, 3});
  auto missing = ConvNet::Create(DecoderLayers(vgg), weights, "decoder.pt");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("28.bias is missing"));
}

TEST(AdainTest, OutputTakesTheTargetStatisticsAndAlphaZeroKeepsTheContent) {
  at::Tensor f = at::rand({2, 5, 7, 9}) * 3;
  at::Tensor tm = at::randn({2, 5});
  at::Tensor ts = at::rand({2, 5}) + 0.5;
  at::Tensor out = AdaIn(f, tm, ts, at::ones({2}));
  auto [m, s] = MeanStd(out);
  EXPECT_TRUE(at::allclose(m, tm, 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(s, ts, 1e-3, 1e-3));
  EXPECT_TRUE(at::allclose(AdaIn(f, tm, ts, at::zeros({2})), f, 1e-5, 1e-5));
  // Per-sample alpha: sample 0 full style, sample 1 untouched.
  at::Tensor mixed = AdaIn(f, tm, ts, at::tensor({1.0f, 0.0f}));
  EXPECT_TRUE(at::allclose(mixed[0], out[0], 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(mixed[1], f[1], 1e-5, 1e-5));
}

TEST(AdainTest, MixingStatisticsEqualsTheWeightedSumOfAdainOutputs) {
  at::Tensor f = at::rand({1, 6, 5, 5});
  at::Tensor m1 = at::randn({1, 6}), s1 = at::rand({1, 6}) + 0.1;
  at::Tensor m2 = at::randn({1, 6}), s2 = at::rand({1, 6}) + 0.1;
  const double w = 0.3;
  at::Tensor one = at::ones({1});
  at::Tensor expected = w * AdaIn(f, m1, s1, one) + (1 - w) * AdaIn(f, m2, s2, one);
  at::Tensor actual = AdaIn(f, w * m1 + (1 - w) * m2, w * s1 + (1 - w) * s2, one);
  EXPECT_TRUE(at::allclose(actual, expected, 1e-5, 1e-5));
}

TEST(AdainTest, CoralGivesTheStyleTheContentsColourMeans) {
  at::Tensor style = at::rand({3, 20, 30});
  at::Tensor content = at::rand({3, 16, 16}) * 0.3 + at::tensor({0.6f, 0.1f, 0.2f}).view({3, 1, 1});
  at::Tensor out = CoralTransfer(style, content);
  EXPECT_EQ(out.sizes(), style.sizes());
  EXPECT_TRUE(at::allclose(out.reshape({3, -1}).mean(1), content.reshape({3, -1}).mean(1), 1e-4, 1e-4));
  // A flat-coloured style stays finite.
  EXPECT_TRUE(at::isfinite(CoralTransfer(at::full({3, 8, 8}, 0.5f), content)).all().item<bool>());
}

TEST(TensorImageTest, RoundTripIsExactAndRoundsHalfUp) {
  RgbImage image = testing::MakeTestPattern(13, 7);
  RgbImage back = TensorToImage(ImageToTensor(image));
  EXPECT_EQ(back.width, 13);
  EXPECT_EQ(back.height, 7);
  EXPECT_EQ(back.pixels, image.pixels);
  at::Tensor t = at::full({3, 1, 1}, 0.5f / 255.0f);
  EXPECT_EQ(TensorToImage(t).pixels[0], 1);
  EXPECT_EQ(TensorToImage(at::full({3, 1, 1}, 2.0f)).pixels[0], 255);
}

TEST(ModelWeightsTest, LegacyDamagedAndMissingFilesGiveClearErrors) {
  auto missing = LoadTensorFile("/nonexistent/encoder.pt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  fs::path dir = TempDir("weights");
  TensorMap weights = {{"0.weight", at::ones({2, 2})}};
  ASSERT_TRUE(SaveTensorFile(weights, (dir / "good.pt").string()).ok());
  auto good = LoadTensorFile((dir / "good.pt").string());
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(at::equal(good->at("0.weight"), weights["0.weight"]));

  std::string bytes = testing::ReadFileOrDie((dir / "good.pt").string());
  std::ofstream((dir / "truncated.pt").string(), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto truncated = LoadTensorFile((dir / "truncated.pt").string());
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(truncated.status().message(), HasSubstr("truncated.pt"));

  std::ofstream((dir / "text.pt").string()) << "hello";
  EXPECT_EQ(LoadTensorFile((dir / "text.pt").string()).status().code(), absl::StatusCode::kInvalidArgument);

  weights["0.weight"] = at::full({2, 2}, NAN);
  ASSERT_TRUE(SaveTensorFile(weights, (dir / "nan.pt").string()).ok());
  auto nan = LoadTensorFile((dir / "nan.pt").string());
  EXPECT_THAT(nan.status().message(), HasSubstr("0.weight has non-finite"));
  fs::remove_all(dir);

  if (!testing::RequireShared("models/adain-vgg19/decoder.pth")) GTEST_SKIP();
  auto legacy = LoadTensorFile(testing::SharedDir() + "/models/adain-vgg19/decoder.pth");
  EXPECT_EQ(legacy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(legacy.status().message(), HasSubstr("convert_weights.py"));
}

class ParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RequireShared("models/adain-vgg19/vgg_normalised.pth") ||
        !testing::RequireShared("data/examples/content/chicago.jpg")) {
      GTEST_SKIP();
    }
    ASSERT_TRUE(InitImageCodec().ok());
    const std::string dir = testing::ConvertedVggWeights();
    ASSERT_FALSE(dir.empty()) << "tools/convert_weights.py failed";
    auto networks = LoadAdainNetworks(dir);
    ASSERT_TRUE(networks.ok()) << networks.status();
    auto model = AdainModel::Create(*networks, {});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    tmp_ = TempDir("parity");
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  // Decodes a shared example, shrunk so that its longer side is `side`.
  RgbImage Example(const std::string& relative, int side) {
    auto image = DecodeImage(testing::ReadFileOrDie(testing::SharedDir() + "/data/examples/" + relative), {}, side);
    EXPECT_TRUE(image.ok()) << image.status();
    return image.ok() ? *image : RgbImage{};
  }

  std::string WriteRaw(const RgbImage& image, const std::string& name) {
    const std::string path = (tmp_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
    return absl::StrCat(path, ":", image.width, ":", image.height);
  }

  // Runs tools/adain_reference.py on the original (legacy-format) weight files.
  RgbImage Reference(const RgbImage& content, const std::vector<RgbImage>& styles, const std::string& weights,
                     double alpha, bool preserve_color) {
    const std::string shared = testing::SharedDir() + "/models/adain-vgg19";
    std::string command = absl::StrCat("/usr/bin/python3 ", std::getenv("STYLE_SOURCE_DIR"),
                                       "/tools/adain_reference.py --encoder ", shared, "/vgg_normalised.pth --decoder ",
                                       shared, "/decoder.pth --content ", WriteRaw(content, "content.rgb"),
                                       " --alpha ", alpha, " --out ", (tmp_ / "ref.rgb").string());
    for (size_t i = 0; i < styles.size(); ++i) {
      absl::StrAppend(&command, " --style ", WriteRaw(styles[i], absl::StrCat("style", i, ".rgb")));
    }
    if (!weights.empty()) absl::StrAppend(&command, " --weights ", weights);
    if (preserve_color) absl::StrAppend(&command, " --preserve-color");
    FILE* pipe = popen(command.c_str(), "r");
    int width = 0, height = 0;
    const int read = fscanf(pipe, "%d %d", &width, &height);
    EXPECT_EQ(pclose(pipe), 0) << command;
    EXPECT_EQ(read, 2);
    RgbImage out;
    out.width = width;
    out.height = height;
    std::string bytes = testing::ReadFileOrDie((tmp_ / "ref.rgb").string());
    out.pixels.assign(bytes.begin(), bytes.end());
    return out;
  }

  RgbImage Ours(const RgbImage& content, const std::vector<RgbImage>& styles, const std::vector<double>& weights,
                double alpha, bool preserve_color) {
    at::Tensor mean = at::zeros({1, 512}), std = at::zeros({1, 512});
    at::Tensor content_tensor = ImageToTensor(content);
    for (size_t i = 0; i < styles.size(); ++i) {
      at::Tensor style = ImageToTensor(styles[i]);
      if (preserve_color) style = CoralTransfer(style[0], content_tensor[0]).unsqueeze(0);
      auto stats = model_->EncodeStyle(style);
      EXPECT_TRUE(stats.ok()) << stats.status();
      mean[0] += weights[i] * stats->mean;
      std[0] += weights[i] * stats->std;
    }
    auto out = model_->Stylize(content_tensor, mean, std, at::full({1}, alpha));
    EXPECT_TRUE(out.ok()) << out.status();
    return TensorToImage(*out);
  }

  // The largest per-pixel difference over our output's area (the reference's is padded to a
  // multiple of 8; ours is cropped to the input).
  static int MaxDifference(const RgbImage& ours, const RgbImage& ref) {
    EXPECT_GE(ref.width, ours.width);
    EXPECT_GE(ref.height, ours.height);
    EXPECT_LT(ref.width - ours.width, 8);
    int worst = 0;
    for (int y = 0; y < ours.height; ++y) {
      for (int x = 0; x < ours.width * 3; ++x) {
        worst = std::max(worst, std::abs(ours.pixels[y * ours.width * 3 + x] - ref.pixels[y * ref.width * 3 + x]));
      }
    }
    return worst;
  }

  std::unique_ptr<AdainModel> model_;
  fs::path tmp_;
};

TEST_F(ParityTest, OneStyleMatchesTheReferenceWithinTwoLevels) {
  RgbImage content = Example("content/chicago.jpg", 192);  // 192x144: sides not all multiples of 8
  RgbImage style = Example("style/la_muse.jpg", 160);
  RgbImage ours = Ours(content, {style}, {1.0}, 1.0, false);
  EXPECT_EQ(ours.width, content.width);
  EXPECT_EQ(ours.height, content.height);
  const int diff = MaxDifference(ours, Reference(content, {style}, "", 1.0, false));
  std::printf("parity, one style: max difference %d/255\n", diff);
  EXPECT_LE(diff, 2);
}

TEST_F(ParityTest, InterpolationAndAlphaMatchTheReference) {
  RgbImage content = Example("content/golden_gate.jpg", 150);
  RgbImage style1 = Example("style/mondrian.jpg", 128);
  RgbImage style2 = Example("style/sketch.png", 128);
  RgbImage ours = Ours(content, {style1, style2}, {0.25, 0.75}, 0.6, false);
  const int diff = MaxDifference(ours, Reference(content, {style1, style2}, "0.25,0.75", 0.6, false));
  std::printf("parity, two styles 0.25/0.75, alpha 0.6: max difference %d/255\n", diff);
  EXPECT_LE(diff, 2);
}

TEST_F(ParityTest, ColourPreservationMatchesTheReference) {
  RgbImage content = Example("content/cornell.jpg", 128);
  RgbImage style = Example("style/picasso_self_portrait.jpg", 128);
  RgbImage ours = Ours(content, {style}, {1.0}, 1.0, true);
  const int diff = MaxDifference(ours, Reference(content, {style}, "", 1.0, true));
  std::printf("parity, colour preservation: max difference %d/255\n", diff);
  EXPECT_LE(diff, 2);
}

TEST_F(ParityTest, WrongWeightsFileIsRefusedNamingFileAndTensor) {
  fs::path dir = TempDir("swapped");
  // An encoder where a decoder belongs: the loader must name the file and the tensor.
  fs::copy_file(testing::ConvertedVggWeights() + "/encoder.pt", dir / "encoder.pt");
  fs::copy_file(testing::ConvertedVggWeights() + "/encoder.pt", dir / "decoder.pt");
  auto networks = LoadAdainNetworks(dir.string());
  ASSERT_FALSE(networks.ok());
  EXPECT_THAT(networks.status().message(), HasSubstr("decoder.pt"));
  EXPECT_THAT(networks.status().message(), HasSubstr("tensor"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace style
