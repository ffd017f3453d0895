// Device names to LibTorch devices, shared by the model and the trainer (LibTorch side only:
// include it from src/model.cc and src/trainer.cc, nowhere else).
#ifndef OODSCORE_SRC_TORCH_DEVICE_H_
#define OODSCORE_SRC_TORCH_DEVICE_H_

#include <torch/torch.h>

#include <string>

namespace oodscore {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Throws UsageError for an unknown
// name, Error when CUDA is asked for and missing.
torch::Device ResolveDevice(const std::string& name);

}  // namespace oodscore

#endif  // OODSCORE_SRC_TORCH_DEVICE_H_
