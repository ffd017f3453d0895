// What the model and the trainer share on the LibTorch side (include it from src/model.cc
// and src/trainer.cc only, the two translation units of liboodscore_torch.so).
#ifndef OODSCORE_SRC_TORCH_COMMON_H_
#define OODSCORE_SRC_TORCH_COMMON_H_

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace oodscore {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Throws UsageError for an unknown
// name, Error when CUDA is asked for and missing.
torch::Device ResolveDevice(const std::string& name);

// Loads a TorchScript module onto `device`. Throws Error naming the file when it is missing,
// cannot be loaded, or has no forward().
torch::jit::Module LoadScriptModule(const std::filesystem::path& path, torch::Device device);

// "[64, 10]": a tensor's shape for messages.
std::string TensorShape(const at::Tensor& t);

// LibTorch's intra-op threads: `threads`, or one per core when 0.
void SetIntraOpThreads(int threads);

}  // namespace oodscore

#endif  // OODSCORE_SRC_TORCH_COMMON_H_
