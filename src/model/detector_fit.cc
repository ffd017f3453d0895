// The fit file (include/oodscore/detectors.h): no LibTorch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/number_range.h"
#include "base/user_file.h"
#include "base/version.h"
#include "model/detector_tuning.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

constexpr char kMagic[] = "OODSCORE-FIT 2\n";
constexpr char kOldMagic[] = "OODSCORE-FIT 1\n";

// One array of the file: its name, dtype and shape, and the member of DetectorFit that holds
// it. This one table drives writing, reading and the finiteness check.
struct ArrayRef {
  const char* name;
  std::vector<std::int64_t> shape;
  std::variant<std::vector<float>*, std::vector<double>*, std::vector<std::int64_t>*> member;

  const char* dtype() const {
    return std::visit(
        [](auto* v) -> const char* {
          using T = typename std::remove_pointer_t<decltype(v)>::value_type;
          return std::is_same_v<T, float> ? "f4" : std::is_same_v<T, double> ? "f8" : "i8";
        },
        member);
  }
  const void* data() const {
    return std::visit([](auto* v) -> const void* { return v->data(); }, member);
  }
  std::size_t bytes() const {
    return std::visit([](auto* v) { return v->size() * sizeof((*v)[0]); }, member);
  }
};

std::size_t ItemSize(const std::string& dtype) { return dtype == "f4" ? 4 : 8; }

// The arrays of a fit, in file order. `fit` is written through only by ParseFit.
std::vector<ArrayRef> Arrays(DetectorFit& fit) {
  const std::int64_t k = fit.head.classes, d = fit.head.dim;
  return {{"head_weight", {k, d}, &fit.head.weight},
          {"head_bias", {k}, &fit.head.bias},
          {"class_means", {k, d}, &fit.class_means},
          {"class_counts", {k}, &fit.class_counts},
          {"precision", {d, d}, &fit.precision},
          {"knn_bank", {fit.bank_rows, d}, &fit.bank},
          {"vim_origin", {d}, &fit.vim_origin},
          {"vim_complement", {d, d - fit.vim_dim}, &fit.vim_complement},
          {"train_mean", {d}, &fit.train_mean},
          {"rmds_precision", {d, d}, &fit.rmds_precision},
          {"she_means", {k, d}, &fit.she_means},
          {"she_counts", {k}, &fit.she_counts},
          {"klm_templates", {k, k}, &fit.klm_templates},
          {"relation_probs", {fit.bank_rows, k}, &fit.relation_probs},
          {"nnguide_bank", {fit.nnguide_rows, d}, &fit.nnguide_bank}};
}
// The fit's scalars, by their header keys.
struct ScalarRef {
  const char* key;
  double DetectorFit::*member;
};
constexpr ScalarRef kScalars[] = {{"react_threshold", &DetectorFit::react_threshold},
                                  {"vim_alpha", &DetectorFit::vim_alpha},
                                  {"vra_low", &DetectorFit::vra_low},
                                  {"vra_high", &DetectorFit::vra_high},
                                  {"tempscale_temperature", &DetectorFit::tempscale_temperature}};

std::vector<ArrayRef> Arrays(const DetectorFit& fit) {
  return Arrays(const_cast<DetectorFit&>(fit));  // read only: WriteFit's view
}

template <typename T>
void Assign(std::string_view bytes, std::vector<T>* out) {
  out->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
}

// Refuses a NaN or an infinity anywhere in `v`, naming the array and the first bad element.
template <typename T>
void CheckFinite(const std::vector<T>& v, const char* name, const std::string& where) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i])) continue;
    throw Error(where + ": array '" + name + "' holds " +
                (std::isnan(v[i]) ? "NaN"
                 : v[i] > 0       ? "Inf"
                                  : "-Inf") +
                " at element " + std::to_string(i));
  }
}

nlohmann::json TuningJson(const DetectorTuning& tuning) {
  nlohmann::json trials = nlohmann::json::array();
  for (const TuningTrial& t : tuning.trials) {
    nlohmann::json settings = nlohmann::json::array();
    for (const auto& [key, value] : t.settings)
      settings.push_back({{"key", key}, {"value", value}});
    nlohmann::json trial = {{"column", t.column}, {"settings", settings}, {"chosen", t.chosen}};
    if (t.skipped.empty()) {
      trial["auroc"] = t.auroc;
    } else {
      trial["skipped"] = t.skipped;
    }
    trials.push_back(trial);
  }
  return {{"sets", TuningSetsJson(tuning.sets)}, {"trials", trials}};
}

// The header's /tuning, checked field by field. `hdr` names the header in errors.
DetectorTuning ParseTuning(const nlohmann::json& h, const std::string& hdr) {
  DetectorTuning tuning;
  tuning.sets = ParseTuningSets(h, "/tuning/sets", hdr);
  const nlohmann::json::json_pointer list("/tuning/trials");
  if (!h.contains(list) || !h.at(list).is_array()) {
    throw Error(hdr + ": /tuning/trials must be a list");
  }
  for (std::size_t i = 0; i < h.at(list).size(); ++i) {
    const std::string at = "/tuning/trials/" + std::to_string(i);
    TuningTrial t;
    t.column = JsonField<std::string>(h, at + "/column", hdr, "a score column");
    t.chosen = JsonField<bool>(h, at + "/chosen", hdr, "true or false");
    const std::string none;
    t.skipped = JsonField<std::string>(h, at + "/skipped", hdr, "a string", &none);
    if (t.skipped.empty()) {
      t.auroc = JsonNumber(h, at + "/auroc", hdr, NumberRange{0, 1, false, false});
    }
    const nlohmann::json::json_pointer settings_at(at + "/settings");
    if (!h.contains(settings_at) || !h.at(settings_at).is_array()) {
      throw Error(hdr + ": " + at + "/settings must be a list of {key, value}");
    }
    for (std::size_t j = 0; j < h.at(settings_at).size(); ++j) {
      const std::string sat = at + "/settings/" + std::to_string(j);
      t.settings.emplace_back(JsonField<std::string>(h, sat + "/key", hdr, "a setting's key"),
                              JsonField<double>(h, sat + "/value", hdr, "a number"));
    }
    tuning.trials.push_back(std::move(t));
  }
  return tuning;
}

}  // namespace

nlohmann::json TuningSetsJson(const std::vector<TuningSet>& sets) {
  nlohmann::json out = nlohmann::json::array();
  for (const TuningSet& s : sets) {
    out.push_back({{"role", s.role},
                   {"name", s.name},
                   {"path", s.path},
                   {"folder", s.folder},
                   {"samples", s.samples},
                   {"content_sha256", s.content_sha256}});
  }
  return out;
}

std::vector<TuningSet> ParseTuningSets(const nlohmann::json& j, const std::string& pointer,
                                       const std::string& where) {
  const nlohmann::json::json_pointer list(pointer);
  if (!j.contains(list) || !j.at(list).is_array()) {
    throw Error(where + ": " + pointer + " must be a list of sets");
  }
  std::vector<TuningSet> sets;
  for (std::size_t i = 0; i < j.at(list).size(); ++i) {
    const std::string at = pointer + "/" + std::to_string(i);
    TuningSet s;
    s.role = JsonField<std::string>(j, at + "/role", where, "\"id\" or \"ood\"");
    if (s.role != "id" && s.role != "ood") {
      throw Error(where + ": " + at + "/role must be \"id\" or \"ood\", got " +
                  DumpJson(s.role, -1));
    }
    s.name = JsonField<std::string>(j, at + "/name", where, "a string");
    s.path = JsonField<std::string>(j, at + "/path", where, "a string");
    s.folder = JsonField<std::string>(j, at + "/folder", where, "a string");
    s.samples = JsonField<std::int64_t>(j, at + "/samples", where, "a count");
    s.content_sha256 = JsonField<std::string>(j, at + "/content_sha256", where, "a SHA-256 in hex");
    sets.push_back(std::move(s));
  }
  return sets;
}

const std::vector<DetectorSettingDef>& DetectorSettingTable() {
  using S = DetectorSettings;
  constexpr double kMax = 1 << 20;
  static const std::vector<DetectorSettingDef> table = {
      {"knn_k", &S::knn_k, 1, kMax, false, false, "KNN's k (the k-th nearest training feature)"},
      {"vim_dim", &S::vim_dim, 0, kMax, false, false,
       "ViM's and residual's principal subspace size (0 = ViM's rule: 1000 for D >= 2048, 512 "
       "for D >= 768, else D/2)"},
      {"react_percentile", &S::react_percentile, 0, 100, false, false,
       "ReAct's clip: this percentile of all training activations"},
      {"ash_percentile", &S::ash_percentile, 0, 100, false, true,
       "ASH-S: share (percent) of each feature vector pruned"},
      {"scale_percentile", &S::scale_percentile, 0, 100, false, true,
       "SCALE: share (percent) of each feature vector left out of the scale's sum"},
      {"dice_percentile", &S::dice_percentile, 0, 100, false, true,
       "DICE: share (percent) of the head's weight-times-mean contributions zeroed"},
      {"vra_low_percentile", &S::vra_low_percentile, 0, 100, false, false,
       "VRA's lower clip: this percentile of all training activations"},
      {"vra_high_percentile", &S::vra_high_percentile, 0, 100, false, false,
       "VRA's upper clip: this percentile of all training activations"},
      {"nci_alpha", &S::nci_alpha, 0, kMax, false, false, "NCI's weight of the feature's L1 norm"},
      {"mds_rcond", &S::mds_rcond, 0, 1, false, true,
       "Mahalanobis and RMDS: drop covariance eigenvalues below this share of the largest "
       "(0 = scipy's pinvh default, D x float64 epsilon, as OpenOOD)"},
      {"tempscale_converged", &S::tempscale_converged, 0, 1, false, false,
       "tempscale: 1 = T at the NLL minimum; 0 = OpenOOD's 50 LBFGS steps from T = 1.5"},
      {"nnguide_k", &S::nnguide_k, 1, kMax, false, false,
       "NNGuide's k (the mean of the k largest similarities to its guide bank)"},
      {"nnguide_fraction", &S::nnguide_fraction, 0, 1, true, false,
       "NNGuide's guide bank: max(k, ceil(F x N)) training images"},
      {"nnguide_random", &S::nnguide_random, 0, 1, false, false,
       "NNGuide's guide bank: 0 = the first images in file order (OpenOOD's), 1 = a sample "
       "drawn with seed 0 (its authors' intent)"},
      {"relation_pow", &S::relation_pow, 0, 64, true, false, "Relation's kernel power"},
      {"bank_size", &S::bank_size, 0, std::numeric_limits<int>::max(), false, false,
       "KNN's and Relation's bank: a sample of this many training images, drawn with "
       "--bank-seed (0 = all of them, as OpenOOD); tempscale is then fitted on the sample",
       true},
      {"bank_fraction", &S::bank_fraction, 0, 1, true, false,
       "KNN's and Relation's bank: a sample of ceil(F x N) training images, drawn with "
       "--bank-seed (1 = all of them, as OpenOOD; the KNN paper's ImageNet bank is 0.01); "
       "tempscale is then fitted on the sample",
       true},
      {"bank_seed", &S::bank_seed, 0, std::numeric_limits<int>::max(), false, false,
       "the seed of --bank-size's or --bank-fraction's sample", true},
      {"fdbd_distance", &S::fdbd_distance, 0, 1, false, false,
       "fDBD's normaliser: 1 = the distance to the training mean (OpenOOD's default), 0 = the "
       "feature norm",
       true},
  };
  return table;
}

void WriteFit(const std::filesystem::path& path, const DetectorFit& fit) {
  nlohmann::json arrays = nlohmann::json::array();
  std::size_t offset = 0;
  for (const ArrayRef& a : Arrays(fit)) {
    arrays.push_back({{"name", a.name},
                      {"dtype", a.dtype()},
                      {"shape", a.shape},
                      {"offset", offset},
                      {"bytes", a.bytes()}});
    offset += a.bytes();
  }
  nlohmann::json header = {
      {"tool", ToolJson()},
      {"argv", CommandLine()},
      {"model_sha256", fit.model_sha256},
      {"preset",
       fit.preset_json.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(fit.preset_json)},
      {"train_path", fit.train_path},
      {"train_samples", fit.train_samples},
      {"head", {{"name", fit.head.name}, {"classes", fit.head.classes}, {"dim", fit.head.dim}}},
      {"arrays", arrays}};
  for (const DetectorSettingDef& def : DetectorSettingTable()) {
    std::visit([&](auto m) { header["settings"][def.key] = fit.settings.*m; }, def.member);
  }
  header["settings"]["vim_dim"] = fit.vim_dim;  // the size used, after ViM's rule
  header["nnguide_rows"] = fit.nnguide_rows;
  header["bank_rows"] = fit.bank_rows;
  header["tempscale_rows"] = fit.tempscale_rows;
  for (const ScalarRef& r : kScalars) header[r.key] = fit.*r.member;
  if (fit.tuning) header["tuning"] = TuningJson(*fit.tuning);
  std::string body = kMagic + header.dump() + "\n";
  body.reserve(body.size() + offset);
  for (const ArrayRef& a : Arrays(fit)) body.append(static_cast<const char*>(a.data()), a.bytes());
  WriteFileAtomic(path, body);
}

DetectorFit ReadFit(const std::filesystem::path& path) {
  const std::string where = "fit file '" + path.string() + "'";
  return ParseFit(ReadUserFile(path, where), where);
}

DetectorFit ParseFit(std::string_view bytes, const std::string& where) {
  const std::string_view magic(kMagic, sizeof(kMagic) - 1);
  if (bytes.substr(0, magic.size()) == std::string_view(kOldMagic, sizeof(kOldMagic) - 1)) {
    throw Error(where +
                " was made by an older oodscore (format 1, without the OpenOOD detectors' "
                "statistics): make it again with `oodscore fit`");
  }
  if (bytes.substr(0, magic.size()) != magic) {
    throw Error(where +
                " is not an oodscore fit file (it does not start with 'OODSCORE-FIT 2'; "
                "make one with `oodscore fit`)");
  }
  const std::size_t eol = bytes.find('\n', magic.size());
  if (eol == std::string_view::npos) throw Error(where + " has no header line (line 2)");
  const std::string_view data = bytes.substr(eol + 1);
  const std::string hdr = where + " has a damaged header (line 2)";
  DetectorFit fit;
  try {
    // Depth-limited, and "\n" first so that the parser's line numbers are the file's.
    const nlohmann::json h =
        ParseJsonWhere("\n" + std::string(bytes.substr(magic.size(), eol - magic.size())), hdr);
    if (!h.is_object()) throw Error(hdr + ": not a JSON object");
    const std::string empty;
    fit.model_sha256 = JsonField<std::string>(h, "/model_sha256", hdr, "a SHA-256 in hex");
    if (!h.contains("preset")) throw Error(hdr + ": missing /preset (a preset or null)");
    fit.preset_json = h["preset"].is_null() ? "" : h["preset"].dump();
    fit.train_path = JsonField<std::string>(h, "/train_path", hdr, "a string", &empty);
    fit.train_samples = JsonField<std::int64_t>(h, "/train_samples", hdr, "a count");
    fit.head.name = JsonField<std::string>(h, "/head/name", hdr, "a string");
    fit.head.classes = JsonField<int>(h, "/head/classes", hdr, "a count");
    fit.head.dim = JsonField<int>(h, "/head/dim", hdr, "a count");
    for (const DetectorSettingDef& def : DetectorSettingTable()) {
      const std::string at = std::string("/settings/") + def.key;
      if (def.may_be_absent && !h.contains(nlohmann::json::json_pointer(at))) continue;
      const NumberRange range{def.lo, def.hi, def.lo_open, def.hi_open};
      std::visit(
          [&](auto m) {
            using T = std::remove_reference_t<decltype(fit.settings.*m)>;
            fit.settings.*m = JsonField<T>(h, at, hdr, range.Text().c_str());
            const std::string problem = range.Problem(static_cast<double>(fit.settings.*m));
            if (!problem.empty()) throw Error(hdr + ": " + at + " " + problem);
          },
          def.member);
    }
    fit.vim_dim = fit.settings.vim_dim;
    fit.nnguide_rows = JsonField<std::int64_t>(h, "/nnguide_rows", hdr, "a count");
    // Absent from the fits made before bank samples: the whole training set.
    fit.bank_rows = JsonField<std::int64_t>(h, "/bank_rows", hdr, "a count", &fit.train_samples);
    fit.tempscale_rows =
        JsonField<std::int64_t>(h, "/tempscale_rows", hdr, "a count", &fit.train_samples);
    for (const ScalarRef& r : kScalars) {
      fit.*r.member = JsonField<double>(h, std::string("/") + r.key, hdr, "a number");
    }
    if (h.contains("tuning")) fit.tuning = ParseTuning(h, hdr);
    if (fit.head.classes < 2 || fit.head.classes > (1 << 24) || fit.head.dim < 2 ||
        fit.head.dim > (1 << 20) || fit.vim_dim < 1 || fit.vim_dim >= fit.head.dim ||
        fit.train_samples < fit.settings.knn_k || fit.nnguide_rows < fit.settings.nnguide_k ||
        fit.nnguide_rows > fit.train_samples || fit.bank_rows < fit.settings.knn_k ||
        fit.bank_rows > fit.train_samples || fit.tempscale_rows < 1 ||
        fit.tempscale_rows > fit.train_samples) {
      throw Error(where + " has inconsistent sizes in its header (classes " +
                  std::to_string(fit.head.classes) + ", dim " + std::to_string(fit.head.dim) +
                  ", vim_dim " + std::to_string(fit.vim_dim) + ", samples " +
                  std::to_string(fit.train_samples) + ", bank rows " +
                  std::to_string(fit.bank_rows) + ", tempscale rows " +
                  std::to_string(fit.tempscale_rows) + ", knn_k " +
                  std::to_string(fit.settings.knn_k) + ", nnguide rows " +
                  std::to_string(fit.nnguide_rows) + ", nnguide_k " +
                  std::to_string(fit.settings.nnguide_k) + ")");
    }
    // Each expected array: its record, its shape from the header's sizes, and where its
    // bytes are in the data.
    if (!h.contains("arrays") || !h["arrays"].is_array()) {
      throw Error(hdr + ": /arrays must be a list of the arrays, got " +
                  (h.contains("arrays") ? DumpJson(h["arrays"], -1) : std::string("nothing")));
    }
    const nlohmann::json& listed = h["arrays"];
    struct Extent {
      std::uint64_t offset, size;
      const char* name;
    };
    std::vector<Extent> extents;
    for (const ArrayRef& a : Arrays(fit)) {  // shapes from the header read above
      std::size_t index = listed.size();
      for (std::size_t i = 0; i < listed.size(); ++i) {
        if (!listed[i].is_object() || listed[i].value("name", nlohmann::json()) != a.name) {
          continue;
        }
        if (index != listed.size()) {
          throw Error(hdr + ": /arrays/" + std::to_string(i) + " names the array '" + a.name +
                      "' again (first: /arrays/" + std::to_string(index) + ")");
        }
        index = i;
      }
      if (index == listed.size()) throw Error(hdr + ": /arrays has no array '" + a.name + "'");
      const std::string at = "/arrays/" + std::to_string(index);
      const std::string dtype = JsonField<std::string>(h, at + "/dtype", hdr, "a dtype");
      if (dtype != a.dtype()) {
        throw Error(hdr + ": " + at + "/dtype must be \"" + a.dtype() + "\" (the array '" + a.name +
                    "'), got " + DumpJson(dtype, -1));
      }
      // Compared as JSON: no number is converted before it is known to be the right one.
      const nlohmann::json shape = nlohmann::json(a.shape);
      if (!listed[index].contains("shape") || listed[index]["shape"] != shape) {
        throw Error(hdr + ": " + at + "/shape must be " + shape.dump() + " (the array '" + a.name +
                    "' for the header's /head, /train_samples and /bank_rows), got " +
                    (listed[index].contains("shape") ? DumpJson(listed[index]["shape"], -1)
                                                     : std::string("nothing")));
      }
      std::uint64_t size = ItemSize(a.dtype());
      for (std::int64_t n : a.shape) {
        if (__builtin_mul_overflow(size, static_cast<std::uint64_t>(n), &size)) {
          throw Error(where + ": array '" + std::string(a.name) + "' of shape " + shape.dump() +
                      " is too large");
        }
      }
      const auto bytes_field = JsonField<std::uint64_t>(h, at + "/bytes", hdr, "a byte count");
      if (bytes_field != size) {
        throw Error(hdr + ": " + at + "/bytes must be " + std::to_string(size) + " (" + a.dtype() +
                    " " + shape.dump() + "), got " + std::to_string(bytes_field));
      }
      const auto offset = JsonField<std::uint64_t>(h, at + "/offset", hdr, "a byte offset");
      // Overflow-safe: offset + size is never computed before both are known to fit.
      if (offset > data.size()) {
        throw Error(hdr + ": " + at + "/offset " + std::to_string(offset) + " (array '" + a.name +
                    "') is past the end of the data, which holds " + std::to_string(data.size()) +
                    " bytes");
      }
      if (size > data.size() - offset) {
        throw Error(where + " is truncated: array '" + std::string(a.name) + "' (" + at +
                    ") needs " + std::to_string(size) + " bytes from byte " +
                    std::to_string(offset) + " of the data, which holds " +
                    std::to_string(data.size()));
      }
      extents.push_back({offset, size, a.name});
      const std::string_view raw = data.substr(offset, size);
      std::visit([&](auto* member) { Assign(raw, member); }, a.member);
    }
    // No array runs into another (each lies within the data, so no end overflows).
    std::sort(extents.begin(), extents.end(),
              [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    for (std::size_t i = 1; i < extents.size(); ++i) {
      const Extent& a = extents[i - 1];
      if (a.offset + a.size > extents[i].offset) {
        throw Error(where + ": array '" + a.name + "' (bytes " + std::to_string(a.offset) + " to " +
                    std::to_string(a.offset + a.size) + " of the data) runs into array '" +
                    extents[i].name + "' (from byte " + std::to_string(extents[i].offset) + ")");
      }
    }
  } catch (const nlohmann::json::exception& e) {  // a safety net: every field is checked above
    throw Error(hdr + ": " + JsonErrorText(e));
  }
  // Every value is a number the scorer can use.
  for (const ArrayRef& a : Arrays(fit)) {
    std::visit([&](auto* member) { CheckFinite(*member, a.name, where); }, a.member);
  }
  for (const auto* counts : {&fit.class_counts, &fit.she_counts}) {
    for (std::size_t i = 0; i < counts->size(); ++i) {
      if ((*counts)[i] < 0) {
        throw Error(where + ": array '" +
                    (counts == &fit.class_counts ? "class_counts" : "she_counts") + "' holds " +
                    std::to_string((*counts)[i]) + " at element " + std::to_string(i) +
                    " (a count)");
      }
    }
  }
  return fit;
}

}  // namespace oodscore
