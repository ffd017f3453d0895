// The parsers that read users' files, each as one function of raw bytes: the libFuzzer
// targets (tests/fuzz/fuzz_main.cc, scripts/fuzz.sh) call them, and so does the regular test
// suite, once per file of the committed corpus (tests/fuzz_corpus_test.cc), so that every
// crash ever found stays a regression test. Each returns normally for any input: bad input
// is an oodscore::Error or a failed DecodeResult, never a crash, hang or huge allocation.
#ifndef OODSCORE_TESTS_FUZZ_FUZZ_TARGETS_H_
#define OODSCORE_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace oodscore::fuzz {

struct Target {
  const char* name;  // also the corpus folder: tests/fuzz/corpus/<name>/
  void (*run)(const std::uint8_t* data, std::size_t size);
};

// Every target: score_csv, list_file, npy_header, preset_json, card_json, fit_file,
// baseline_json,
// gate_expr, decode_png, decode_jpeg, decode_bmp, decode_pnm, decode_webp.
const std::vector<Target>& Targets();

}  // namespace oodscore::fuzz

#endif  // OODSCORE_TESTS_FUZZ_FUZZ_TARGETS_H_
