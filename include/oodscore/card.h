// Detector cards: a deployable OOD threshold with everything needed to apply it safely.
//
//   {"kind": "oodscore-detector-card", "score": "energy", "temperature": 1,
//    "orientation": "lower_is_id", "threshold": -7.25, "accept_as_id": "energy <= -7.25",
//    "tpr_target": 0.95, "tpr_achieved": 0.9502, "n": 10000, "id_set": "cifar10",
//    "model": {"path": "...", "sha256": "..."}, "preset": {...}, "tool": {...}}
#ifndef OODSCORE_CARD_H_
#define OODSCORE_CARD_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "oodscore/scores.h"

namespace oodscore {

struct DetectorCard {
  std::string score = "energy";  // a score column name
  // Which way the score points: the catalogue's (include/oodscore/scores.h), as the card
  // states it; a card whose orientation contradicts the catalogue is refused when read.
  Orientation orientation = Orientation::kLowerIsId;
  double temperature = 1;              // for energy scores, and ODIN's T for odin cards
  std::optional<double> odin_epsilon;  // odin cards: the perturbation size
  std::string fit_sha256;  // cards of a feature-space score: the fit file's SHA-256 (--fit)
  double threshold = 0;    // in the score's own units
  double tpr_target = 0.95;
  double tpr_achieved = 0;
  std::size_t n = 0;
  std::string id_set;
  std::string model_path, model_sha256;
  nlohmann::json preset;  // the preset in full
  // For msp: the threshold on log_msp that calibration ranked by. Applying the card to
  // log_msp reproduces the calibration exactly, where msp itself may have rounded to 1.0.
  std::optional<double> log_msp_threshold;

  // The score column the card is applied to: the score's rank column ("log_msp" for msp)
  // for cards that carry log_msp_threshold, else `score`.
  std::string ApplyColumn() const;
  // True when a sample whose ApplyColumn() value is `value` is OOD by this card.
  bool IsOod(double value) const;
};

nlohmann::json CardJson(const DetectorCard& card);

// Reads and validates a card. Throws oodscore::Error naming the file and the field.
DetectorCard ReadCard(const std::filesystem::path& path);
// The same from the card's text; `source` names it in messages.
DetectorCard ParseCard(const std::string& text, const std::string& source);

}  // namespace oodscore

#endif  // OODSCORE_CARD_H_
