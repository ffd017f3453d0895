// Model libraries from "another build", which the loader's handshake (src/model/torch_api.h)
// must refuse before it calls anything: each variant, chosen by a definition, is built into
// its own liboodscore_fake_torch_<variant>.so. Their function pointers are all null.
#include "model/torch_api.h"

// OODSCORE_FAKE_NONE: no entry point, a shared library that is no model library.
#if !defined(OODSCORE_FAKE_NONE)

namespace {

#if defined(OODSCORE_FAKE_LEGACY)
// A version 3 table, from before the handshake: `int version` first.
struct Table {
  int version;
  void* functions[7];
};
const Table kTable = {3, {}};
#else
using Table = oodscore::TorchApi;
const Table kTable = [] {
  oodscore::TorchApi t{};
  t.magic = oodscore::kTorchApiMagic;
  t.version = oodscore::kTorchApiVersion;
  t.size = sizeof(t);
  t.cxx_abi = oodscore::kTorchApiCxxAbi;
  t.libtorch = "0.0-fake";
#if defined(OODSCORE_FAKE_NEWER)   // a later table version
  t.version = oodscore::kTorchApiVersion + 1;
#elif defined(OODSCORE_FAKE_SIZE)  // this version, another layout
  t.size = sizeof(t) + 8;
#elif defined(OODSCORE_FAKE_ABI)   // another C++ library ABI
  t.cxx_abi = "libstdc++ 20150101, _GLIBCXX_USE_CXX11_ABI=0";
#endif
  return t;
}();
#endif

}  // namespace

extern "C" __attribute__((visibility("default"))) const oodscore::TorchApi* OodscoreTorchApi() {
  return reinterpret_cast<const oodscore::TorchApi*>(&kTable);
}

#endif  // !OODSCORE_FAKE_NONE
