// Preprocessing presets: the shipped ones (configs/presets/*.json, compiled in) and user
// JSON files.
#ifndef OODSCORE_PRESET_H_
#define OODSCORE_PRESET_H_

#include <cstddef>
#include <string>
#include <vector>

#include "oodscore/preprocess.h"

namespace oodscore {

struct EmbeddedPreset {
  const char* name;
  const char* json;
};
// Defined in the generated presets_embedded.cc.
extern const EmbeddedPreset kEmbeddedPresets[];
extern const std::size_t kEmbeddedPresetCount;

struct Preset {
  PreprocessSpec spec;
  std::string json;    // the preset's JSON text, for reports and detector cards
  std::string source;  // "builtin:cifar10" or the file path
};

// A shipped preset by name, or a JSON file when the argument ends in ".json" or names an
// existing file. Throws oodscore::UsageError for an unknown name, with a suggestion
// ("unknown preset 'cifar1', did you mean 'cifar10'?"), and oodscore::Error for a bad file.
Preset LoadPreset(const std::string& name_or_path);

std::vector<std::string> PresetNames();

// The closest candidate within edit distance 2, or "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace oodscore

#endif  // OODSCORE_PRESET_H_
