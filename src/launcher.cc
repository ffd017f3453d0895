// The oodscore executable: a small launcher that loads the tool from liboodscore_cli.so,
// which sits beside it.
//
// Why a launcher: LibTorch's OpenMP threads spin after every parallel region by default,
// taking the cores from the decode workers that run beside them (measured on 2 cores with the
// demo CNN: 8-17k img/s with the default policy, 20-24k with OMP_WAIT_POLICY=PASSIVE).
// libgomp reads OMP_WAIT_POLICY once, when it is loaded, and a program linked against
// LibTorch loads it before main() runs. So this process sets the variable first (for the
// commands that run a model, unless the user chose a policy), then loads LibTorch.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "score") == 0 || std::strcmp(argv[i], "eval") == 0 ||
          std::strcmp(argv[i], "calibrate") == 0) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        ::setenv("OODSCORE_SET_OMP_WAIT_POLICY", "1", 1);
        break;
      }
    }
  }
  char exe[PATH_MAX];
  std::string dir = ".";
  if (::realpath("/proc/self/exe", exe) != nullptr) {
    dir = exe;
    dir.resize(dir.rfind('/'));
  }
  std::string error;
  for (const std::string& path :
       {dir + "/liboodscore_cli.so", dir + "/../lib/oodscore/liboodscore_cli.so"}) {
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      error += std::string("\n  ") + ::dlerror();
      continue;
    }
    using MainFn = int (*)(int, char**);
    auto fn = reinterpret_cast<MainFn>(::dlsym(lib, "OodscoreMain"));
    if (fn == nullptr) {
      std::fprintf(stderr, "oodscore: '%s' has no OodscoreMain\n", path.c_str());
      return 3;
    }
    return fn(argc, argv);
  }
  std::fprintf(stderr, "oodscore: cannot load liboodscore_cli.so beside the executable:%s\n",
               error.c_str());
  return 3;
}
