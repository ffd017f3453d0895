// Opens liboodscore_testmodels.so (beside the test binary) on first use.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <stdexcept>
#include <string>

#include "test_models.h"

namespace oodscore::testing {

namespace {

const TestModelApi& Api() {
  static const TestModelApi* api = [] {
    char exe[PATH_MAX];
    std::string dir = ".";
    if (::realpath("/proc/self/exe", exe) != nullptr) {
      dir = exe;
      dir.resize(dir.rfind('/'));
    }
    const std::string path = dir + "/liboodscore_testmodels.so";
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) throw std::runtime_error(std::string("test models: ") + ::dlerror());
    using ApiFn = const TestModelApi* (*)();
    auto fn = reinterpret_cast<ApiFn>(::dlsym(lib, "OodscoreTestModelApi"));
    if (fn == nullptr) throw std::runtime_error("test models: no OodscoreTestModelApi in " + path);
    return fn();
  }();
  return *api;
}

}  // namespace

void WriteLinearModel(const std::string& path, int in_features, int classes, double scale) {
  Api().linear(path, in_features, classes, scale);
}

void WriteConvModel(const std::string& path, int in_channels, int classes) {
  Api().conv(path, in_channels, classes);
}

void WriteOddModel(const std::string& path, const std::string& kind, int in_features) {
  Api().odd(path, kind, in_features);
}

void WriteHeadModel(const std::string& path, const std::string& kind, int in_features,
                    int classes) {
  Api().headed(path, kind, in_features, classes);
}

}  // namespace oodscore::testing
