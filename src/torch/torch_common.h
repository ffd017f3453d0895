// What the translation units of liboodscore_torch.so share on the LibTorch side (include it
// from src/torch/model.cc, src/torch/trainer.cc, src/torch/head.cc and src/torch/detectors.cc
// only).
#ifndef OODSCORE_SRC_TORCH_TORCH_COMMON_H_
#define OODSCORE_SRC_TORCH_TORCH_COMMON_H_

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "oodscore/detectors.h"

namespace oodscore {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Throws UsageError for an unknown
// name, Error when CUDA is asked for and missing.
torch::Device ResolveDevice(const std::string& name);

// Loads a TorchScript module onto `device`. Throws Error naming the file when it is missing,
// cannot be loaded, or has no forward().
torch::jit::Module LoadScriptModule(const std::filesystem::path& path, torch::Device device);

// "[64, 10]": a tensor's shape for messages.
std::string TensorShape(const at::Tensor& t);

// The last line of a LibTorch or TorchScript error (its cause; the lines above are the script's
// traceback), without trailing newlines.
std::string LastLine(std::string what);

// LibTorch's intra-op threads: `threads`, or one per core when 0.
void SetIntraOpThreads(int threads);

// The method AddFeaturesMethod adds: x -> (forward's output, penultimate features).
constexpr const char* kFeaturesMethod = "oodscore_features";

// Finds the classifier head of `module` (loaded from `path`) and adds kFeaturesMethod:
//  1. forward(), inlined, applies linear layers of submodule weights (aten::linear): the head
//     is the last one, or the one named `head`; the method returns forward's output and that
//     layer's input, by rewriting a copy of the graph.
//  2. Else, a module with forward_features and forward_head(x, pre_logits) (timm): the method
//     returns (forward_head(f), forward_head(f, pre_logits=True)), f = forward_features(x);
//     the head is the last submodule with a 2-D weight, or the one named `head`.
// Returns the head's weights. Throws Error naming the submodules found when neither works.
HeadWeights AddFeaturesMethod(torch::jit::Module& module, const std::string& head,
                              const std::string& path);

}  // namespace oodscore

#endif  // OODSCORE_SRC_TORCH_TORCH_COMMON_H_
