#include "oodscore/preset.h"

#include <algorithm>
#include <filesystem>

#include "base/atomic_file.h"
#include "base/suggest.h"
#include "oodscore/error.h"

namespace oodscore {

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kEmbeddedPresetCount; ++i) names.push_back(kEmbeddedPresets[i].name);
  return names;
}

namespace {

// Lowercase, without '-', '_' and spaces: "CIFAR-10" -> "cifar10".
std::string Squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// Squashed aliases that are not a shipped name squashed.
const std::pair<const char*, const char*> kAliases[] = {
    {"fmnist", "fashion-mnist"}, {"imagenet1k", "imagenet"}, {"in1k", "imagenet"}};

}  // namespace

std::string ShippedPresetName(const std::string& name_or_alias) {
  const std::string key = Squash(name_or_alias);
  if (key.empty()) return "";
  for (const auto& n : PresetNames()) {
    if (Squash(n) == key) return n;
  }
  for (const auto& [alias, name] : kAliases) {
    if (key == alias) return name;
  }
  return "";
}

Preset PresetFromJson(const std::string& json_text, const std::string& source) {
  Preset p;
  p.json = json_text;
  p.source = source;
  p.spec = ParsePresetJson(p.json, source);
  return p;
}

Preset LoadPreset(const std::string& name_or_path) {
  std::error_code ec;
  const bool looks_like_file =
      name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0;
  if (looks_like_file || std::filesystem::is_regular_file(name_or_path, ec)) {
    return PresetFromJson(ReadFile(name_or_path), name_or_path);
  }
  const std::string shipped = ShippedPresetName(name_or_path);
  for (std::size_t i = 0; i < kEmbeddedPresetCount; ++i) {
    if (shipped == kEmbeddedPresets[i].name) {
      return PresetFromJson(kEmbeddedPresets[i].json, "builtin:" + shipped);
    }
  }
  std::vector<std::string> candidates = PresetNames();
  for (const auto& [alias, name] : kAliases) candidates.push_back(alias);
  std::string suggestion = DidYouMean(Squash(name_or_path), candidates);
  if (!suggestion.empty()) suggestion = ShippedPresetName(suggestion);
  throw UsageError("unknown preset '" + name_or_path + "'" +
                   (suggestion.empty() ? "" : ", did you mean '" + suggestion + "'?") +
                   " (shipped presets: " + JoinNames(PresetNames()) + "; or give a .json file)");
}

bool FixedOutputShape(const PreprocessSpec& spec, int* c, int* h, int* w) {
  *c = spec.channels();
  if (spec.crop_h > 0 && spec.crop_w > 0) {
    *h = spec.crop_h;
    *w = spec.crop_w;
    return true;
  }
  if (spec.resize_short == 0 && spec.resize_h > 0 && spec.resize_w > 0) {
    *h = spec.resize_h;
    *w = spec.resize_w;
    return true;
  }
  return false;
}

std::vector<std::string> PresetsThatFit(int c, int h, int w, long long flat_features) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < kEmbeddedPresetCount; ++i) {
    const PreprocessSpec spec = ParsePresetJson(kEmbeddedPresets[i].json, kEmbeddedPresets[i].name);
    int pc = 0, ph = 0, pw = 0;
    if (!FixedOutputShape(spec, &pc, &ph, &pw)) continue;
    const bool fits = flat_features > 0 ? static_cast<long long>(pc) * ph * pw == flat_features
                                        : pc == c && (h <= 0 || (ph == h && pw == w));
    if (fits) out.push_back(kEmbeddedPresets[i].name);
  }
  return out;
}

}  // namespace oodscore
