// The fit file (include/oodscore/detectors.h): no LibTorch.
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "oodscore/atomic_file.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"
#include "oodscore/version.h"

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
void Assign(const std::string& bytes, std::vector<T>* out) {
  out->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
}

}  // namespace

void WriteFit(const std::filesystem::path& path, const DetectorFit& fit) {
  nlohmann::json arrays = nlohmann::json::array();
  std::size_t offset = 0;
  for (const ArrayRef& a : Arrays(fit)) {
    arrays.push_back({{"name", a.name}, {"dtype", a.dtype}, {"shape", a.shape},
                      {"offset", offset}, {"bytes", a.bytes}});
    offset += a.bytes;
  }
  const nlohmann::json header = {
      {"tool", {{"name", "oodscore"}, {"version", ToolVersion()}}},
      {"model_sha256", fit.model_sha256},
      {"preset", fit.preset_json.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json::parse(fit.preset_json)},
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + where);
  std::string magic(sizeof(kMagic) - 1, '\0');
  if (!in.read(magic.data(), static_cast<std::streamsize>(magic.size())) || magic != kMagic) {
    throw Error(where + " is not an oodscore fit file (it does not start with 'OODSCORE-FIT 1'; "
                "make one with `oodscore fit`)");
  }
  std::string line;
  std::getline(in, line);
  nlohmann::json h;
  DetectorFit fit;
  try {
    h = nlohmann::json::parse(line);
    fit.model_sha256 = h.at("model_sha256").get<std::string>();
    fit.preset_json = h.at("preset").is_null() ? "" : h.at("preset").dump();
    fit.train_path = h.value("train_path", "");
    fit.train_samples = h.at("train_samples").get<std::int64_t>();
    fit.head.name = h.at("head").at("name").get<std::string>();
    fit.head.classes = h.at("head").at("classes").get<int>();
    fit.head.dim = h.at("head").at("dim").get<int>();
    const auto& s = h.at("settings");
    fit.settings.knn_k = s.at("knn_k").get<int>();
    fit.settings.react_percentile = s.at("react_percentile").get<double>();
    fit.settings.ash_percentile = s.at("ash_percentile").get<double>();
    fit.vim_dim = fit.settings.vim_dim = s.at("vim_dim").get<int>();
    fit.react_threshold = h.at("react_threshold").get<double>();
    fit.vim_alpha = h.at("vim_alpha").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + " has a damaged header (line 2): " + e.what());
  }
  if (fit.head.classes < 2 || fit.head.dim < 2 || fit.vim_dim < 1 || fit.vim_dim >= fit.head.dim ||
      fit.train_samples < fit.settings.knn_k || fit.settings.knn_k < 1) {
    throw Error(where + " has inconsistent sizes in its header (classes " +
                std::to_string(fit.head.classes) + ", dim " + std::to_string(fit.head.dim) +
                ", vim_dim " + std::to_string(fit.vim_dim) + ", samples " +
                std::to_string(fit.train_samples) + ", knn_k " +
                std::to_string(fit.settings.knn_k) + ")");
  }
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg() - data_start;
  // Each expected array, checked against the header's record of it and the file's size.
  const auto expected = Arrays(fit);  // shapes from the header's sizes (data pointers unused)
  const auto& listed = h.at("arrays");
  for (const ArrayRef& a : expected) {
    nlohmann::json rec;
    for (const auto& r : listed) {
      if (r.value("name", "") == a.name) rec = r;
    }
    std::size_t bytes = ItemSize(a.dtype);
    for (std::int64_t n : a.shape) bytes *= static_cast<std::size_t>(n);
    if (rec.is_null() || rec.value("dtype", "") != a.dtype ||
        rec.value("shape", std::vector<std::int64_t>()) != a.shape ||
        rec.value("bytes", std::size_t{0}) != bytes) {
      throw Error(where + ": array '" + std::string(a.name) + "' is missing or is not " +
                  a.dtype + " " + nlohmann::json(a.shape).dump());
    }
    const std::size_t offset = rec.value("offset", std::size_t{0});
    if (static_cast<std::streamoff>(offset + bytes) > size) {
      throw Error(where + " is truncated: array '" + std::string(a.name) + "' ends at byte " +
                  std::to_string(offset + bytes) + " of the data, which holds " +
                  std::to_string(size));
    }
    std::string raw(bytes, '\0');
    in.seekg(data_start + static_cast<std::streamoff>(offset));
    in.read(raw.data(), static_cast<std::streamsize>(bytes));
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
  return fit;
}

}  // namespace oodscore
