// The boundary between the tool and LibTorch (front-end code, not part of the library API).
//
// Only running a model (scoring, the feature-space detectors, fine-tuning) needs LibTorch, so
// only a command that does loads it: src/torch/, the only code that includes LibTorch, is built
// into liboodscore_torch.so, which exports one function, OodscoreTorchApi(), and
// src/model/model_loader.cc opens that library the first time a model is loaded (or a LibTorch
// fact is asked for). `oodscore metrics`, `--help` and `--version` never load it (about 0.5 s and
// 165 MB saved). Both sides must be built together, by the same compiler, from the same
// headers: the table opens with a handshake that the loader checks before it touches anything
// else, so that a library from another build is refused with a message instead of a crash.
#ifndef OODSCORE_SRC_MODEL_TORCH_API_H_
#define OODSCORE_SRC_MODEL_TORCH_API_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "oodscore/detectors.h"
#include "oodscore/model.h"
#include "oodscore/trainer.h"

// A macro's value as a string literal.
#define OODSCORE_TORCH_API_STR_(x) #x
#define OODSCORE_TORCH_API_STR(x) OODSCORE_TORCH_API_STR_(x)

namespace oodscore {

// TorchApi::magic: "OODS" read as a little-endian integer; never a table version.
constexpr std::uint32_t kTorchApiMagic = 0x5344'4f4f;
// Bumped whenever TorchApi, or a type that crosses it, changes.
constexpr std::uint32_t kTorchApiVersion = 7;
// Versions 1 to 3 had no handshake: their table opened with `int version`, which the loader
// reads where the magic is now, to name the version of a stale library.
constexpr std::uint32_t kLastTorchApiVersionWithoutHandshake = 3;

// The C++ standard library of this build: std::string, std::vector and std::unique_ptr cross
// the table, so both sides need the same one, with the same std::string ABI (an official
// LibTorch built with the pre-C++11 ABI imposes _GLIBCXX_USE_CXX11_ABI=0 on what links it).
#if defined(__GLIBCXX__)
inline constexpr char kTorchApiCxxAbi[] = "libstdc++ " OODSCORE_TORCH_API_STR(
    __GLIBCXX__) ", _GLIBCXX_USE_CXX11_ABI=" OODSCORE_TORCH_API_STR(_GLIBCXX_USE_CXX11_ABI);
#else
inline constexpr char kTorchApiCxxAbi[] = "libc++ " OODSCORE_TORCH_API_STR(
    _LIBCPP_VERSION) ", ABI " OODSCORE_TORCH_API_STR(_LIBCPP_ABI_VERSION);
#endif

struct TorchApi {
  // The handshake. Its layout never changes: the loader reads magic, then version, then size,
  // and reads on only when all three are this build's.
  std::uint32_t magic;    // kTorchApiMagic
  std::uint32_t version;  // kTorchApiVersion
  std::uint64_t size;     // sizeof(TorchApi)
  const char* cxx_abi;    // kTorchApiCxxAbi of the library's build; must equal the loader's
  const char* libtorch;   // the LibTorch version the library was built with (for messages)

  std::unique_ptr<Model> (*load)(const std::filesystem::path& path, const ModelOptions& options);
  std::unique_ptr<Trainer> (*load_trainer)(const std::filesystem::path& path,
                                           const TrainerOptions& options);
  std::string (*torch_version)();
  bool (*cuda_available)();
  int (*intra_op_threads)();
  DetectorFit (*fit_detectors)(const FeatureRows& features, const int* labels,
                               const HeadWeights& head, const DetectorSettings& settings,
                               std::int64_t block_rows, FitAlternatives* alternatives);
  std::unique_ptr<FeatureScorer> (*make_feature_scorer)(const DetectorFit& fit,
                                                        const std::string& device,
                                                        const std::vector<std::string>& columns,
                                                        const std::vector<bool>& enabled);
};

}  // namespace oodscore

extern "C" const oodscore::TorchApi* OodscoreTorchApi();

namespace oodscore {
// Defined in src/torch/trainer.cc and src/torch/detectors.cc, exported through TorchApi.
std::unique_ptr<Trainer> LoadTorchTrainer(const std::filesystem::path& path,
                                          const TrainerOptions& options);
DetectorFit FitTorchDetectors(const FeatureRows& features, const int* labels,
                              const HeadWeights& head, const DetectorSettings& settings,
                              std::int64_t block_rows, FitAlternatives* alternatives);
std::unique_ptr<FeatureScorer> MakeTorchFeatureScorer(const DetectorFit& fit,
                                                      const std::string& device,
                                                      const std::vector<std::string>& columns,
                                                      const std::vector<bool>& enabled);
}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_TORCH_API_H_
