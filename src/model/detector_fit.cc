// The fit file (include/oodscore/detectors.h): no LibTorch.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "base/user_file.h"
#include "base/version.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

constexpr char kMagic[] = "OODSCORE-FIT 1\n";

// One array of the file: where its bytes are and what they hold.
struct ArrayRef {
  const char* name;
  const char* dtype;  // "f4", "f8", "i8"
  std::vector<std::int64_t> shape;
  const void* data;
  std::size_t bytes;
};

std::size_t ItemSize(const std::string& dtype) { return dtype == "f4" ? 4 : 8; }

std::vector<ArrayRef> Arrays(const DetectorFit& fit) {
  const std::int64_t k = fit.head.classes, d = fit.head.dim;
  auto ref = [](const char* name, const char* dtype, std::vector<std::int64_t> shape,
                const auto& v) {
    return ArrayRef{name, dtype, std::move(shape), v.data(), v.size() * sizeof(v[0])};
  };
  return {ref("head_weight", "f4", {k, d}, fit.head.weight),
          ref("head_bias", "f4", {k}, fit.head.bias),
          ref("class_means", "f8", {k, d}, fit.class_means),
          ref("class_counts", "i8", {k}, fit.class_counts),
          ref("precision", "f8", {d, d}, fit.precision),
          ref("knn_bank", "f4", {fit.train_samples, d}, fit.bank),
          ref("vim_origin", "f8", {d}, fit.vim_origin),
          ref("vim_complement", "f8", {d, d - fit.vim_dim}, fit.vim_complement)};
}

template <typename T>
void Assign(std::string_view bytes, std::vector<T>* out) {
  out->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
}

}  // namespace

void WriteFit(const std::filesystem::path& path, const DetectorFit& fit) {
  nlohmann::json arrays = nlohmann::json::array();
  std::size_t offset = 0;
  for (const ArrayRef& a : Arrays(fit)) {
    arrays.push_back({{"name", a.name},
                      {"dtype", a.dtype},
                      {"shape", a.shape},
                      {"offset", offset},
                      {"bytes", a.bytes}});
    offset += a.bytes;
  }
  const nlohmann::json header = {
      {"tool", ToolJson()},
      {"model_sha256", fit.model_sha256},
      {"preset",
       fit.preset_json.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(fit.preset_json)},
      {"train_path", fit.train_path},
      {"train_samples", fit.train_samples},
      {"head", {{"name", fit.head.name}, {"classes", fit.head.classes}, {"dim", fit.head.dim}}},
      {"settings",
       {{"knn_k", fit.settings.knn_k},
        {"react_percentile", fit.settings.react_percentile},
        {"ash_percentile", fit.settings.ash_percentile},
        {"vim_dim", fit.vim_dim}}},
      {"react_threshold", fit.react_threshold},
      {"vim_alpha", fit.vim_alpha},
      {"arrays", arrays}};
  std::string body = kMagic + header.dump() + "\n";
  body.reserve(body.size() + offset);
  for (const ArrayRef& a : Arrays(fit)) body.append(static_cast<const char*>(a.data), a.bytes);
  WriteFileAtomic(path, body);
}

DetectorFit ReadFit(const std::filesystem::path& path) {
  const std::string where = "fit file '" + path.string() + "'";
  return ParseFit(ReadUserFile(path, where), where);
}

DetectorFit ParseFit(std::string_view bytes, const std::string& where) {
  const std::string_view magic(kMagic, sizeof(kMagic) - 1);
  if (bytes.substr(0, magic.size()) != magic) {
    throw Error(where +
                " is not an oodscore fit file (it does not start with 'OODSCORE-FIT 1'; "
                "make one with `oodscore fit`)");
  }
  const std::size_t eol = bytes.find('\n', magic.size());
  if (eol == std::string_view::npos) throw Error(where + " has no header line (line 2)");
  const std::string_view data = bytes.substr(eol + 1);
  DetectorFit fit;
  try {
    const nlohmann::json h = nlohmann::json::parse(bytes.substr(magic.size(), eol - magic.size()));
    // An integer, clamped for the checks below (a float or a string is an error: converting
    // a huge float to an integer is undefined).
    auto count = [&](const nlohmann::json& v) -> std::int64_t {
      if (v.is_number_unsigned()) {
        return static_cast<std::int64_t>(
            std::min<std::uint64_t>(v.get<std::uint64_t>(), std::uint64_t{1} << 40));
      }
      if (!v.is_number_integer()) {
        throw Error(where + " has a damaged header (line 2): " + v.dump() +
                    " where an integer was expected");
      }
      return std::clamp<std::int64_t>(v.get<std::int64_t>(), -1, std::int64_t{1} << 40);
    };
    fit.model_sha256 = h.at("model_sha256").get<std::string>();
    fit.preset_json = h.at("preset").is_null() ? "" : h.at("preset").dump();
    fit.train_path = h.value("train_path", "");
    fit.train_samples = count(h.at("train_samples"));
    fit.head.name = h.at("head").at("name").get<std::string>();
    fit.head.classes =
        static_cast<int>(std::min<std::int64_t>(count(h.at("head").at("classes")), 1 << 30));
    fit.head.dim = static_cast<int>(std::min<std::int64_t>(count(h.at("head").at("dim")), 1 << 30));
    const auto& s = h.at("settings");
    fit.settings.knn_k = static_cast<int>(std::min<std::int64_t>(count(s.at("knn_k")), 1 << 30));
    fit.settings.react_percentile = s.at("react_percentile").get<double>();
    fit.settings.ash_percentile = s.at("ash_percentile").get<double>();
    fit.vim_dim = fit.settings.vim_dim =
        static_cast<int>(std::min<std::int64_t>(count(s.at("vim_dim")), 1 << 30));
    fit.react_threshold = h.at("react_threshold").get<double>();
    fit.vim_alpha = h.at("vim_alpha").get<double>();
    if (fit.head.classes < 2 || fit.head.classes > (1 << 24) || fit.head.dim < 2 ||
        fit.head.dim > (1 << 20) || fit.vim_dim < 1 || fit.vim_dim >= fit.head.dim ||
        fit.settings.knn_k < 1 || fit.train_samples < fit.settings.knn_k ||
        !(fit.settings.ash_percentile >= 0 && fit.settings.ash_percentile < 100)) {
      throw Error(where + " has inconsistent sizes in its header (classes " +
                  std::to_string(fit.head.classes) + ", dim " + std::to_string(fit.head.dim) +
                  ", vim_dim " + std::to_string(fit.vim_dim) + ", samples " +
                  std::to_string(fit.train_samples) + ", knn_k " +
                  std::to_string(fit.settings.knn_k) + ", ash_percentile " +
                  std::to_string(fit.settings.ash_percentile) + ")");
    }
    // Each expected array, checked against the header's record of it and the data's size.
    const nlohmann::json& listed = h.at("arrays");
    if (!listed.is_array()) throw Error(where + ": the header's 'arrays' is not a list");
    for (const ArrayRef& a : Arrays(fit)) {  // shapes from the header (data pointers unused)
      const nlohmann::json* rec = nullptr;
      for (const auto& r : listed) {
        if (r.is_object() && r.value("name", "") == a.name) rec = &r;
      }
      std::size_t size = ItemSize(a.dtype);
      for (std::int64_t n : a.shape) {
        if (__builtin_mul_overflow(size, static_cast<std::size_t>(n), &size)) {
          throw Error(where + ": array '" + std::string(a.name) + "' is too large");
        }
      }
      // Compared as JSON: no number is converted before it is known to be the right one.
      if (rec == nullptr || rec->value("dtype", "") != a.dtype ||
          rec->value("shape", nlohmann::json()) != nlohmann::json(a.shape) ||
          rec->value("bytes", nlohmann::json()) != nlohmann::json(size) ||
          !rec->value("offset", nlohmann::json()).is_number_unsigned()) {
        throw Error(where + ": array '" + std::string(a.name) + "' is missing or is not " +
                    a.dtype + " " + nlohmann::json(a.shape).dump());
      }
      const std::uint64_t offset = rec->at("offset").get<std::uint64_t>();
      if (offset > data.size() || size > data.size() - offset) {
        throw Error(where + " is truncated: array '" + std::string(a.name) + "' ends at byte " +
                    std::to_string(offset + size) + " of the data, which holds " +
                    std::to_string(data.size()));
      }
      const std::string_view raw = data.substr(offset, size);
      const std::string name = a.name;
      if (name == "head_weight") Assign(raw, &fit.head.weight);
      if (name == "head_bias") Assign(raw, &fit.head.bias);
      if (name == "class_means") Assign(raw, &fit.class_means);
      if (name == "class_counts") Assign(raw, &fit.class_counts);
      if (name == "precision") Assign(raw, &fit.precision);
      if (name == "knn_bank") Assign(raw, &fit.bank);
      if (name == "vim_origin") Assign(raw, &fit.vim_origin);
      if (name == "vim_complement") Assign(raw, &fit.vim_complement);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + " has a damaged header (line 2): " + e.what());
  }
  return fit;
}

}  // namespace oodscore
