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

// Also accepts the names people type for the shipped presets, case-insensitively and with or
// without '-' / '_': "fmnist", "fashion_mnist", "FashionMNIST", "cifar-10", "CIFAR100",
// "imagenet-1k".
std::vector<std::string> PresetNames();

// The shipped preset a name or alias stands for ("fmnist" -> "fashion-mnist"), or "".
std::string ShippedPresetName(const std::string& name_or_alias);

// A preset from its JSON text (as stored in a detector card or a run stamp).
Preset PresetFromJson(const std::string& json_text, const std::string& source);

// The [c, h, w] every image has after the preset, when the preset fixes it (a crop, or a
// resize to [h, w]); false when the size depends on the image.
bool FixedOutputShape(const PreprocessSpec& spec, int* c, int* h, int* w);

// Shipped presets whose fixed output has c channels (and h x w, when h, w > 0), or whose
// c * h * w equals flat_features when that is > 0: for "which preset would fit" messages.
std::vector<std::string> PresetsThatFit(int c, int h, int w, long long flat_features);

}  // namespace oodscore

#endif  // OODSCORE_PRESET_H_
