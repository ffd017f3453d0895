// One libFuzzer binary per target: OODSCORE_FUZZ_TARGET names it at compile time.
#include <cstdlib>
#include <cstring>

#include "fuzz_targets.h"

namespace {

const oodscore::fuzz::Target& Chosen() {
  static const oodscore::fuzz::Target* target = [] {
    for (const auto& t : oodscore::fuzz::Targets()) {
      if (std::strcmp(t.name, OODSCORE_FUZZ_TARGET) == 0) return &t;
    }
    std::abort();
  }();
  return *target;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Chosen().run(data, size);
  return 0;
}
