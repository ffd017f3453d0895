// The fit file (include/oodscore/detectors.h): no LibTorch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/user_file.h"
#include "base/version.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

constexpr char kMagic[] = "OODSCORE-FIT 1\n";

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
          {"knn_bank", {fit.train_samples, d}, &fit.bank},
          {"vim_origin", {d}, &fit.vim_origin},
          {"vim_complement", {d, d - fit.vim_dim}, &fit.vim_complement}};
}
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

}  // namespace

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
  for (const ArrayRef& a : Arrays(fit)) body.append(static_cast<const char*>(a.data()), a.bytes());
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
    fit.settings.knn_k = JsonField<int>(h, "/settings/knn_k", hdr, "a count");
    fit.settings.react_percentile =
        JsonField<double>(h, "/settings/react_percentile", hdr, "a number");
    fit.settings.ash_percentile = JsonField<double>(h, "/settings/ash_percentile", hdr, "a number");
    fit.vim_dim = fit.settings.vim_dim = JsonField<int>(h, "/settings/vim_dim", hdr, "a count");
    fit.react_threshold = JsonField<double>(h, "/react_threshold", hdr, "a number");
    fit.vim_alpha = JsonField<double>(h, "/vim_alpha", hdr, "a number");
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
                    "' for the header's /head and /train_samples), got " +
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
  for (std::size_t i = 0; i < fit.class_counts.size(); ++i) {
    if (fit.class_counts[i] < 0) {
      throw Error(where + ": array 'class_counts' holds " + std::to_string(fit.class_counts[i]) +
                  " at element " + std::to_string(i) + " (a count)");
    }
  }
  return fit;
}

}  // namespace oodscore
