// Tiny TorchScript models for tests, built in C++ (no Python). LibTorch stays in
// tests/test_models.cc, built into liboodscore_testmodels.so and opened on first use.
#ifndef OODSCORE_TESTS_TEST_MODELS_H_
#define OODSCORE_TESTS_TEST_MODELS_H_

#include <string>

namespace oodscore::testing {

// A linear classifier on flattened [N, C, H, W] input with fixed, deterministic weights:
// logits = x.flatten(1) @ W^T + b, W[i][j] = scale * sin(0.37 * (i + 1) * (j + 1)), b[i] = 0.1 * i.
void WriteLinearModel(const std::string& path, int in_features, int classes, double scale = 0.05);

// A small CNN: conv3x3(in -> 8) + relu + global average pool + linear(8 -> classes), with
// fixed weights. Input [N, in_channels, H, W].
void WriteConvModel(const std::string& path, int in_channels, int classes);

// Models whose output is wrong in one way: "vector" (1-D output), "one_class" ([N, 1]),
// "int" (int64 logits), "nan" (NaN logits), "tuple" (returns (logits, features): valid),
// "string" (returns a str), "frozen" (valid logits from a torch.jit.freeze'd module: no
// parameters left to train), "detached" (valid logits of x.detach(): no input gradient),
// "softmax" (probabilities, not logits).
void WriteOddModel(const std::string& path, const std::string& kind, int in_features);

// Classifiers with a head, for the feature-space detectors (penultimate features = 16 ReLU
// units of a linear layer on the flattened input):
//  "mlp":    submodules body (Linear in -> 16) and fc (Linear 16 -> classes); forward =
//            fc(relu(body(x))), both applied with aten::linear
//  "timm":   no aten::linear anywhere: forward_features / forward_head(x, pre_logits) as timm
//            exports them, the head a submodule fc applied with addmm
//  "scaled": "mlp" returning 2 * fc(...): the head's output is not the model's
//  "inf_white": "mlp" whose logits are Inf (or NaN) for an image whose mean input is >= 1.99
//            (an all-white image under a preset with mean 0.5, std 0.25)
void WriteHeadModel(const std::string& path, const std::string& kind, int in_features, int classes);

// What liboodscore_testmodels.so exports (OodscoreTestModelApi()).
struct TestModelApi {
  void (*linear)(const std::string& path, int in_features, int classes, double scale);
  void (*conv)(const std::string& path, int in_channels, int classes);
  void (*odd)(const std::string& path, const std::string& kind, int in_features);
  void (*headed)(const std::string& path, const std::string& kind, int in_features, int classes);
};

}  // namespace oodscore::testing

#endif  // OODSCORE_TESTS_TEST_MODELS_H_
