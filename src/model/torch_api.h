// The boundary between the tool and LibTorch (front-end code, not part of the library API).
//
// Only the model needs LibTorch, so only a command that loads a model loads it: src/torch/model.cc
// is built into liboodscore_torch.so, which exports one function, OodscoreTorchApi(), and
// src/model/model_loader.cc opens that library the first time a model is loaded (or a LibTorch fact
// is asked for). `oodscore metrics`, `--help` and `--version` never load it (about 0.5 s and
// 165 MB saved). Both sides are built together, by the same compiler, from the same headers.
#ifndef OODSCORE_SRC_MODEL_TORCH_API_H_
#define OODSCORE_SRC_MODEL_TORCH_API_H_

#include <filesystem>
#include <memory>
#include <string>

#include "oodscore/detectors.h"
#include "oodscore/model.h"
#include "oodscore/trainer.h"

namespace oodscore {

// Bumped whenever TorchApi changes: a stale library beside a new executable is refused.
constexpr int kTorchApiVersion = 3;

struct TorchApi {
  int version;
  std::unique_ptr<Model> (*load)(const std::filesystem::path& path, const ModelOptions& options);
  std::unique_ptr<Trainer> (*load_trainer)(const std::filesystem::path& path,
                                           const TrainerOptions& options);
  std::string (*torch_version)();
  bool (*cuda_available)();
  int (*intra_op_threads)();
  DetectorFit (*fit_detectors)(const float* features, const int* labels, std::int64_t n,
                               const HeadWeights& head, const DetectorSettings& settings);
  std::unique_ptr<FeatureScorer> (*make_feature_scorer)(const DetectorFit& fit,
                                                        const std::string& device,
                                                        const std::vector<bool>& enabled);
};

}  // namespace oodscore

extern "C" const oodscore::TorchApi* OodscoreTorchApi();

namespace oodscore {
// Defined in src/torch/trainer.cc and src/torch/detectors.cc, exported through TorchApi.
std::unique_ptr<Trainer> LoadTorchTrainer(const std::filesystem::path& path,
                                          const TrainerOptions& options);
DetectorFit FitTorchDetectors(const float* features, const int* labels, std::int64_t n,
                              const HeadWeights& head, const DetectorSettings& settings);
std::unique_ptr<FeatureScorer> MakeTorchFeatureScorer(const DetectorFit& fit,
                                                      const std::string& device,
                                                      const std::vector<bool>& enabled);
}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_TORCH_API_H_
