#include "fuzz_targets.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "base/json_text.h"
#include "cli/score_stamp.h"
#include "oodscore/card.h"
#include "oodscore/dataset.h"
#include "oodscore/decode.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"
#include "oodscore/gate.h"
#include "oodscore/npy.h"
#include "oodscore/preprocess.h"
#include "oodscore/report.h"
#include "oodscore/score_table.h"

namespace oodscore::fuzz {

namespace {

std::string Text(const std::uint8_t* data, std::size_t size) {
  return size ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
}

// Runs f; oodscore::Error is the expected answer to bad input.
template <typename F>
void Expecting(F f) {
  try {
    f();
  } catch (const Error&) {
  }
}

void ScoreCsv(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const std::string text = Text(data, size);
    // Read in one block, and in tiny blocks parsed on three threads: the same table, or the
    // same error.
    std::string error_one, error_tiny;
    ScoreTable one, tiny;
    try {
      one = ParseScoreCsv(text, "fuzz.csv");
    } catch (const Error& e) {
      error_one = e.what();
    }
    try {
      tiny =
          ParseScoreCsv(text, "fuzz.csv", {/*keep_paths=*/true, /*threads=*/3, /*block_bytes=*/16});
    } catch (const Error& e) {
      error_tiny = e.what();
    }
    if (error_one != error_tiny) {
      std::fprintf(stderr, "one block: '%s'\ntiny blocks: '%s'\n", error_one.c_str(),
                   error_tiny.c_str());
      std::abort();
    }
    if (!error_one.empty()) throw Error(error_one);
    if (one.size() != tiny.size() || one.SetNames() != tiny.SetNames()) std::abort();
    for (std::size_t r = 0; r < one.size(); ++r) {
      const ScoreRow a = one.Row(r), b = tiny.Row(r);
      if (a.set != b.set || a.label != b.label || a.pred != b.pred || a.values != b.values)
        std::abort();
    }
    for (const auto& s : one.SetNames()) LabelAccuracy(one, {s});
  });
}

void ListFileTarget(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    // Lines, and NUL-separated entries (--null) of the same bytes.
    std::istringstream lines(Text(data, size)), entries(Text(data, size));
    Expecting([&] { ParseList(lines, "fuzz.txt", "/base", "fuzz"); });
    ParseList(entries, "fuzz.txt", "/base", "fuzz", /*nul_separated=*/true);
  });
}

void NpyHeader(const std::uint8_t* data, std::size_t size) {
  Expecting([&] { ParseNpyHeader(data, size, "npy file 'fuzz.npy'"); });
}

void PresetJson(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const PreprocessSpec spec = ParsePresetJson(Text(data, size), "fuzz.json");
    int c, h, w;
    OutputShape(spec, 1000, 3, &c, &h, &w);
    TransformPixels(spec, 1, 1 << 30);
  });
}

void CardJson(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const DetectorCard card = ParseCard(Text(data, size), "fuzz.json");
    card.IsOod(0.5);
  });
}

// A score file's stamp (src/cli/score_stamp.h): read, then written back and read again.
void ScoreStampJson(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const ScoreStamp stamp =
        ScoreStamp::FromJson(ParseJsonText(Text(data, size), "fuzz.json"), "fuzz.json");
    const nlohmann::json written = stamp.ToJson();
    if (FirstDifference(written, ScoreStamp::FromJson(written, "again.json").ToJson())) {
      std::fprintf(stderr, "a stamp does not read back as written\n");
      std::abort();
    }
  });
}

void FitFile(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const DetectorFit fit = ParseFit(Text(data, size), "fit file 'fuzz.fit'");
    // What the scorer relies on: every array as large as the header's sizes say.
    const std::size_t k = fit.head.classes, d = fit.head.dim;
    if (fit.head.weight.size() != k * d || fit.head.bias.size() != k ||
        fit.class_means.size() != k * d || fit.class_counts.size() != k ||
        fit.precision.size() != d * d ||
        fit.bank.size() != static_cast<std::size_t>(fit.bank_rows) * d ||
        fit.relation_probs.size() != static_cast<std::size_t>(fit.bank_rows) * k ||
        fit.vim_origin.size() != d ||
        fit.vim_complement.size() != d * (d - static_cast<std::size_t>(fit.vim_dim))) {
      __builtin_trap();
    }
    // ... and every value a finite number.
    auto finite = [](const auto& v) {
      for (const auto x : v) {
        if (!std::isfinite(x)) return false;
      }
      return true;
    };
    if (!finite(fit.head.weight) || !finite(fit.head.bias) || !finite(fit.class_means) ||
        !finite(fit.precision) || !finite(fit.bank) || !finite(fit.vim_origin) ||
        !finite(fit.vim_complement)) {
      __builtin_trap();
    }
  });
}

// A report to compare fuzzed baselines with.
const Report& SmallReport() {
  static const Report report = [] {
    ReportInput in;
    ScoreInfo energy, msp;
    LookupScore("energy", &energy);
    LookupScore("msp", &msp);
    in.scores = {energy, msp};
    in.id = {"id", {{5, 6, 7, 8}, {5, 6, 7, 8}}};
    in.ood.push_back({"far", {{0, 1, 2, 9}, {0, 1, 6, 3}}});
    return BuildReport(in);
  }();
  return report;
}

void BaselineJson(const std::uint8_t* data, std::size_t size) {
  Expecting([&] {
    const nlohmann::json baseline = ParseJsonText(Text(data, size), "fuzz.json");
    try {
      CompareWithBaseline(baseline, SmallReport(), {{{"auroc", 0.01}}, {{"fpr_at_tpr", 0.01}}});
    } catch (const nlohmann::json::exception& e) {  // the command reports these by name
      throw Error(JsonErrorText(e));
    }
  });
}

void GateExpr(const std::uint8_t* data, std::size_t size) {
  const std::string text = Text(data, size);
  Expecting([&] {
    const Gate g = ParseGate(text, {"energy", "energy_T1.5", "msp"});
    EvaluateGates({g}, SmallReport());
  });
  Expecting([&] { ParseTolerance(text); });
  Expecting([&] { ParseMetricValue(text, "auroc", "fuzz"); });
}

// Each decoder behind its magic bytes, so that the fuzzer spends its time inside it.
template <const char* kMagic, std::size_t kLen>
void Decode(const std::uint8_t* data, std::size_t size) {
  std::string bytes(kMagic, kLen);
  bytes += Text(data, size);
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  for (ColorMode mode : {ColorMode::kRgb, ColorMode::kL}) {
    const DecodeResult r = DecodeImage(p, bytes.size(), mode, /*max_pixels=*/1 << 20);
    if (r.ok() && r.image.pixels.size() !=
                      static_cast<std::size_t>(r.image.width) * r.image.height * r.image.channels) {
      __builtin_trap();  // a decoder returned an image whose buffer does not match its size
    }
  }
}

constexpr char kPng[] = "\x89PNG\r\n\x1a\n";
constexpr char kJpeg[] = "\xff\xd8\xff";
constexpr char kBmp[] = "BM";
constexpr char kPnm[] = "P";
constexpr char kWebp[] = "RIFF";

}  // namespace

const std::vector<Target>& Targets() {
  static const std::vector<Target> targets = {
      {"score_csv", ScoreCsv},           {"list_file", ListFileTarget},
      {"npy_header", NpyHeader},         {"preset_json", PresetJson},
      {"card_json", CardJson},           {"fit_file", FitFile},
      {"baseline_json", BaselineJson},   {"gate_expr", GateExpr},
      {"score_stamp", ScoreStampJson},   {"decode_png", Decode<kPng, 8>},
      {"decode_jpeg", Decode<kJpeg, 3>}, {"decode_bmp", Decode<kBmp, 2>},
      {"decode_pnm", Decode<kPnm, 1>},   {"decode_webp", Decode<kWebp, 4>},
  };
  return targets;
}

}  // namespace oodscore::fuzz
