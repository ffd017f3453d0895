// Detector cards: a deployable OOD threshold with everything needed to apply it safely.
//
//   {"kind": "oodscore-detector-card", "score": "energy", "temperature": 1,
//    "orientation": "lower_is_id", "threshold": -7.25, "accept_as_id": "energy <= -7.25",
//    "tpr_target": 0.95, "tpr_achieved": 0.9502, "n": 10000, "id_set": "cifar10",
//    "model": {"path": "...", "sha256": "..."}, "preset": {...}, "tool": {...},
//    "calibration": {"n": 10000, "axis": "oriented, higher = ID", "scores": [...]}}
//
// With calibrate --split-fraction, /calibration also holds "split": {"fraction", "seed",
// "n_threshold"}: the threshold came from the other n_threshold samples, so the p-values'
// calibration scores were not used to choose it.
//
// "calibration" (cards from calibrate; older cards lack it) holds the calibration set's
// scores on the axis the card decides on, oriented so that higher = ID: Orient() of the
// ApplyColumn() value (for msp cards, log_msp itself; for energy, -energy). Sorted ascending,
// finite, written as shortest round-trip doubles, so that reading the card gives the same
// doubles bit for bit. They make conformal p-values (Bates et al., Ann. Statist. 2023).
#ifndef OODSCORE_CARD_H_
#define OODSCORE_CARD_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/scores.h"

namespace oodscore {

// The calibration field's "axis": the only axis cards store calibration scores on.
extern const char* const kCalibrationAxis;

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
  // The calibration set's oriented scores, sorted ascending (see above); empty when the card
  // has none (an older card).
  std::vector<double> calibration;
  // calibrate --split-fraction: the held-out share and the split's seed (the threshold's n is
  // `n`); nullopt when the threshold and the p-values share every sample.
  struct Split {
    double fraction = 0;
    std::uint64_t seed = 0;
  };
  std::optional<Split> split;

  // The score column the card is applied to: the score's rank column ("log_msp" for msp)
  // for cards that carry log_msp_threshold, else `score`.
  std::string ApplyColumn() const;
  // True when a sample whose ApplyColumn() value is `value` is OOD by this card.
  bool IsOod(double value) const;
  // An ApplyColumn() value on the calibration axis: oriented, higher = ID.
  double Oriented(double value) const;
  // The conformal p-value of an ApplyColumn() value. REQUIRES: !calibration.empty().
  double PValue(double value) const;
};

// The conformal p-value of an oriented score s against n oriented calibration scores sorted
// ascending: (1 + #{i : s_i <= s}) / (n + 1); ties count as at least as extreme. NaN, which no
// calibration score ranks below, gets the smallest value, 1 / (n + 1). For a new ID sample
// exchangeable with the calibration set, P(p <= alpha) <= alpha. REQUIRES: sorted ascending.
double ConformalPValue(const std::vector<double>& sorted, double s);

nlohmann::json CardJson(const DetectorCard& card);

// Reads and validates a card. Throws oodscore::Error naming the file and the field.
DetectorCard ReadCard(const std::filesystem::path& path);
// The same from the card's text; `source` names it in messages.
DetectorCard ParseCard(const std::string& text, const std::string& source);

}  // namespace oodscore

#endif  // OODSCORE_CARD_H_
