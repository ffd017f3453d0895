#include "oodscore/preset.h"

#include <algorithm>
#include <filesystem>

#include "oodscore/atomic_file.h"
#include "oodscore/error.h"

namespace oodscore {

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kEmbeddedPresetCount; ++i) names.push_back(kEmbeddedPresets[i].name);
  return names;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : candidates) {
    std::vector<std::size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] != c[j - 1])});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  return best;
}

Preset LoadPreset(const std::string& name_or_path) {
  Preset p;
  for (std::size_t i = 0; i < kEmbeddedPresetCount; ++i) {
    if (name_or_path == kEmbeddedPresets[i].name) {
      p.json = kEmbeddedPresets[i].json;
      p.source = "builtin:" + name_or_path;
      p.spec = ParsePresetJson(p.json, p.source);
      return p;
    }
  }
  std::error_code ec;
  const bool looks_like_file =
      name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0;
  if (looks_like_file || std::filesystem::is_regular_file(name_or_path, ec)) {
    p.json = ReadFile(name_or_path);
    p.source = name_or_path;
    p.spec = ParsePresetJson(p.json, name_or_path);
    return p;
  }
  std::string names;
  for (const auto& n : PresetNames()) names += (names.empty() ? "" : ", ") + n;
  const std::string suggestion = DidYouMean(name_or_path, PresetNames());
  throw UsageError("unknown preset '" + name_or_path + "'" +
                   (suggestion.empty() ? "" : ", did you mean '" + suggestion + "'?") +
                   " (shipped presets: " + names + "; or give a .json file)");
}

}  // namespace oodscore
