// Model::Load and the LibTorch facts, through liboodscore_torch.so (see src/model/torch_api.h).
//
// Why OMP_WAIT_POLICY is set here: LibTorch's OpenMP threads spin after every parallel region
// by default, taking the cores from the decode workers that run beside them (measured on 2
// cores with the demo CNN: 8-17k img/s with the default policy, 20-24k with PASSIVE). libgomp
// reads the variable once, when it is loaded, which is when LibTorch is: so it is set (unless
// the user chose a policy) just before the library is opened.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "model/feature_spill.h"
#include "model/model_file.h"
#include "model/torch_api.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"
#include "oodscore/model.h"
#include "oodscore/trainer.h"

namespace oodscore {

namespace {

bool set_omp_wait_policy = false;

// Why the table a library returned is not this build's, or "" when it is. Reads magic,
// version and size before anything else (a table of another layout may be shorter).
std::string HandshakeFailure(const TorchApi& api) {
  const std::string needs = ", this oodscore needs " + std::to_string(kTorchApiVersion);
  if (api.magic != kTorchApiMagic) {
    if (api.magic >= 1 && api.magic <= kLastTorchApiVersionWithoutHandshake) {
      return "has function table version " + std::to_string(api.magic) + needs;
    }
    return "has an unknown function table (it opens with " + std::to_string(api.magic) +
           ", not oodscore's handshake)";
  }
  if (api.version != kTorchApiVersion) {
    return "has function table version " + std::to_string(api.version) + needs;
  }
  if (api.size != sizeof(TorchApi)) {
    return "has a function table of " + std::to_string(api.size) + " bytes, this oodscore needs " +
           std::to_string(sizeof(TorchApi)) + " (both version " + std::to_string(kTorchApiVersion) +
           ")";
  }
  if (std::strcmp(api.cxx_abi, kTorchApiCxxAbi) != 0) {
    return "was built with " + std::string(api.cxx_abi) + " (LibTorch " + api.libtorch +
           "), this oodscore with " + kTorchApiCxxAbi;
  }
  return "";
}

std::string ExecutableDir() {
  char exe[PATH_MAX];
  if (::realpath("/proc/self/exe", exe) == nullptr) return ".";
  std::string dir = exe;
  dir.resize(dir.rfind('/'));
  return dir;
}

}  // namespace

std::vector<std::string> ModelLibraryCandidates() {
  if (const char* forced = std::getenv("OODSCORE_TORCH_LIBRARY")) return {forced};
  const std::string dir = ExecutableDir();
  return {dir + "/liboodscore_torch.so", dir + "/../lib/oodscore/liboodscore_torch.so"};
}

namespace {

const TorchApi& Api() {
  static const TorchApi* api = nullptr;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
      ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
      set_omp_wait_policy = true;
    }
    for (const std::string& path : ModelLibraryCandidates()) {
      void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) {
        failure += "\n  " + std::string(::dlerror());
        continue;
      }
      using ApiFn = const TorchApi* (*)();
      auto fn = reinterpret_cast<ApiFn>(::dlsym(lib, "OodscoreTorchApi"));
      const TorchApi* found = fn ? fn() : nullptr;
      if (found == nullptr) {
        failure += "\n  '" + path + "' has no oodscore function table (not a model library)";
        continue;
      }
      if (const std::string why = HandshakeFailure(*found); !why.empty()) {
        failure +=
            "\n  model library '" + path + "' " + why + ": rebuild or reinstall both together";
        continue;
      }
      api = found;
      return;
    }
  });
  if (api == nullptr) {
    throw Error(
        "cannot load the model library (LibTorch), which every command that runs a "
        "model needs:" +
        failure);
  }
  return *api;
}

}  // namespace

namespace {

// A file that is plainly not TorchScript is named as what it is, before LibTorch tries it.
void CheckModelFile(const std::filesystem::path& path) {
  if (const std::string why = NotTorchScriptReason(path); !why.empty()) {
    throw Error("model file '" + path.string() + "' " + why);
  }
}

}  // namespace

std::unique_ptr<Model> Model::Load(const std::filesystem::path& path, const ModelOptions& options) {
  CheckModelFile(path);
  return Api().load(path, options);
}

std::unique_ptr<Trainer> Trainer::Load(const std::filesystem::path& path,
                                       const TrainerOptions& options) {
  CheckModelFile(path);
  return Api().load_trainer(path, options);
}

DetectorFit FitDetectors(const FeatureRows& features, const int* labels, const HeadWeights& head,
                         const DetectorSettings& settings, std::int64_t block_rows,
                         FitAlternatives* alternatives) {
  return Api().fit_detectors(features, labels, head, settings, block_rows, alternatives);
}

DetectorFit FitDetectors(const float* features, const int* labels, std::int64_t n,
                         const HeadWeights& head, const DetectorSettings& settings) {
  return FitDetectors(MemoryFeatureRows(features, n, head.dim), labels, head, settings);
}

std::unique_ptr<FeatureScorer> MakeFeatureScorer(const DetectorFit& fit, const std::string& device,
                                                 const std::vector<std::string>& only) {
  const auto& names = FeatureScoreNames();
  std::vector<bool> enabled(names.size(), only.empty());
  for (const auto& name : only) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw Error("internal error: no feature score '" + name + "'");
    enabled[it - names.begin()] = true;
  }
  return Api().make_feature_scorer(fit, device, names, enabled);
}

std::string TorchVersion() { return Api().torch_version(); }
bool CudaAvailable() { return Api().cuda_available(); }
int IntraOpThreads() { return Api().intra_op_threads(); }
bool SetOmpWaitPolicy() { return set_omp_wait_policy; }

}  // namespace oodscore
