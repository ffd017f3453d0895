#include "oodscore/card.h"

#include <algorithm>
#include <cmath>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/version.h"
#include "oodscore/error.h"

namespace oodscore {

const char* const kCalibrationAxis = "oriented, higher = ID";

std::string DetectorCard::ApplyColumn() const {
  const ScoreDef* def = FindScore(score);
  return log_msp_threshold && def && def->rank_column ? def->rank_column : score;
}

bool DetectorCard::IsOod(double value) const {
  // The rank column holds log(score), higher = ID (the catalogue's msp).
  if (ApplyColumn() != score) return !(value >= *log_msp_threshold);
  return orientation == Orientation::kHigherIsId ? !(value >= threshold) : !(value <= threshold);
}

double DetectorCard::Oriented(double value) const {
  // The rank column (log_msp) is higher = ID, as msp itself.
  return Orient(value, orientation);
}

double DetectorCard::PValue(double value) const {
  return ConformalPValue(calibration, Oriented(value));
}

double ConformalPValue(const std::vector<double>& sorted, double s) {
  const double n1 = static_cast<double>(sorted.size()) + 1.0;
  if (std::isnan(s)) return 1.0 / n1;
  const auto le = std::upper_bound(sorted.begin(), sorted.end(), s) - sorted.begin();
  return (1.0 + static_cast<double>(le)) / n1;
}

nlohmann::json CardJson(const DetectorCard& c) {
  const Orientation o = c.orientation;
  nlohmann::json j = {{"kind", "oodscore-detector-card"},
                      {"score", c.score},
                      {"temperature", c.temperature},
                      {"orientation", OrientationKey(o)},
                      {"threshold", c.threshold},
                      {"accept_as_id", c.score + (o == Orientation::kHigherIsId ? " >= " : " <= ") +
                                           FormatDouble(c.threshold)},
                      {"tpr_target", c.tpr_target},
                      {"tpr_achieved", c.tpr_achieved},
                      {"n", c.n},
                      {"id_set", c.id_set},
                      {"model", {{"path", c.model_path}, {"sha256", c.model_sha256}}},
                      {"preset", c.preset},
                      {"tool", ToolJson()}};
  if (c.log_msp_threshold) j["log_msp_threshold"] = *c.log_msp_threshold;
  if (c.odin_epsilon) j["odin_epsilon"] = *c.odin_epsilon;
  if (!c.fit_sha256.empty()) j["fit_sha256"] = c.fit_sha256;
  if (!c.calibration.empty()) {
    j["calibration"] = {
        {"n", c.calibration.size()}, {"axis", kCalibrationAxis}, {"scores", c.calibration}};
    if (c.split) {
      j["calibration"]["split"] = {
          {"fraction", c.split->fraction}, {"seed", c.split->seed}, {"n_threshold", c.n}};
    }
  }
  return j;
}

namespace {

// The calibration scores at /calibration: an object {"n", "axis", "scores"} whose scores are
// n finite numbers sorted ascending. Throws oodscore::Error naming the pointer.
std::vector<double> ReadCalibration(const nlohmann::json& j, const std::string& where) {
  const nlohmann::json& cal = j["calibration"];
  if (!cal.is_object()) {
    throw Error(where + ": /calibration must be an object {\"n\", \"axis\", \"scores\"}, got " +
                DumpJson(cal, -1).substr(0, 120));
  }
  const auto n = JsonField<std::size_t>(j, "/calibration/n", where, "a count");
  const std::string axis = JsonField<std::string>(j, "/calibration/axis", where, "a string");
  if (axis != kCalibrationAxis) {
    throw Error(where + ": /calibration/axis must be \"" + kCalibrationAxis + "\", got \"" + axis +
                "\"");
  }
  if (!j.contains(nlohmann::json::json_pointer("/calibration/scores"))) {
    throw Error(where + ": missing /calibration/scores (the calibration set's scores)");
  }
  const nlohmann::json& scores = cal["scores"];
  if (!scores.is_array()) {
    throw Error(where + ": /calibration/scores must be an array of numbers, got " +
                DumpJson(scores, -1).substr(0, 120));
  }
  if (scores.size() != n) {
    throw Error(where + ": /calibration/n is " + std::to_string(n) +
                " but /calibration/scores holds " + std::to_string(scores.size()) + " scores");
  }
  if (n == 0) throw Error(where + ": /calibration/n must be at least 1, got 0");
  std::vector<double> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string ptr = "/calibration/scores/" + std::to_string(i);
    const double v = JsonField<double>(j, ptr, where, "a finite number");
    if (!out.empty() && v < out.back()) {
      throw Error(where + ": " + ptr + " is " + FormatDouble(v) + ", below the score before it (" +
                  FormatDouble(out.back()) + "): the calibration scores must be sorted ascending");
    }
    out.push_back(v);
  }
  return out;
}

}  // namespace

DetectorCard ReadCard(const std::filesystem::path& path) {
  return ParseCard(ReadFile(path), path.string());
}

DetectorCard ParseCard(const std::string& text, const std::string& source) {
  const std::string where = "detector card '" + source + "'";
  const nlohmann::json j = ParseJsonText(text, source);
  if (!j.is_object() || j.value("kind", nlohmann::json()) != "oodscore-detector-card") {
    throw Error(where + ": missing \"kind\": \"oodscore-detector-card\" (is it a card?)");
  }
  DetectorCard c;
  const double one = 1.0, zero = 0.0;
  const std::size_t none = 0;
  const std::string empty;
  c.score = JsonField<std::string>(j, "/score", where, "a score name");
  c.temperature = JsonNumber(j, "/temperature", where, kPositive, &one);
  c.threshold = JsonNumber(j, "/threshold", where, kFinite);
  c.tpr_target = JsonNumber(j, "/tpr_target", where, {0, 1}, &zero);
  c.tpr_achieved = JsonNumber(j, "/tpr_achieved", where, {0, 1}, &zero);
  c.n = JsonField<std::size_t>(j, "/n", where, "a count", &none);
  c.id_set = JsonField<std::string>(j, "/id_set", where, "a string", &empty);
  c.model_path = JsonField<std::string>(j, "/model/path", where, "a string", &empty);
  c.model_sha256 = JsonField<std::string>(j, "/model/sha256", where, "a SHA-256 in hex");
  if (!j.contains("preset")) throw Error(where + ": missing /preset (the preset in full)");
  c.preset = j["preset"];
  if (j.contains("log_msp_threshold")) {
    c.log_msp_threshold = JsonNumber(j, "/log_msp_threshold", where, kFinite);
  }
  if (j.contains("odin_epsilon")) {
    c.odin_epsilon = JsonNumber(j, "/odin_epsilon", where, kNonNegative);
  }
  const ScoreDef* def = FindScore(c.score);
  if (def != nullptr && def->needs == ScoreNeeds::kPerturbation && !c.odin_epsilon) {
    throw Error(where + ": an " + c.score +
                " card needs \"odin_epsilon\" (and its T in \"temperature\")");
  }
  if (j.contains("fit_sha256")) {
    c.fit_sha256 = JsonField<std::string>(j, "/fit_sha256", where, "a SHA-256 in hex");
  }
  if (IsFeatureScore(c.score) && c.fit_sha256.empty()) {
    throw Error(where + ": a " + c.score +
                " card needs \"fit_sha256\" (the fit file it was "
                "calibrated with)");
  }
  if (j.contains("calibration")) c.calibration = ReadCalibration(j, where);
  if (j.contains(nlohmann::json::json_pointer("/calibration/split"))) {
    DetectorCard::Split split;
    split.fraction = JsonField<double>(j, "/calibration/split/fraction", where, "a share");
    if (!(split.fraction > 0 && split.fraction < 1)) {
      throw Error(where + ": /calibration/split/fraction must be in (0, 1), got " +
                  FormatDouble(split.fraction));
    }
    split.seed = JsonField<std::uint64_t>(j, "/calibration/split/seed", where, "a seed");
    const auto n_threshold =
        JsonField<std::size_t>(j, "/calibration/split/n_threshold", where, "a count");
    if (n_threshold != c.n) {
      throw Error(where + ": /calibration/split/n_threshold is " + std::to_string(n_threshold) +
                  " but /n is " + std::to_string(c.n) + " (the threshold's samples)");
    }
    c.split = split;
  }
  ScoreInfo info;
  if (!LookupScore(c.score, &info)) throw Error(where + ": unknown score '" + c.score + "'");
  c.orientation = info.orientation;
  if (j.contains("orientation")) {
    const std::string key = JsonField<std::string>(j, "/orientation", where, "a string");
    const auto parsed = ParseOrientationKey(key);
    if (!parsed) {
      throw Error(where + ": /orientation must be \"higher_is_id\" or \"lower_is_id\", got \"" +
                  key + "\"");
    }
    if (*parsed != info.orientation) {
      throw Error(where + ": /orientation \"" + key + "\" contradicts score '" + c.score +
                  "', which is " + OrientationText(info.orientation));
    }
  }
  return c;
}

}  // namespace oodscore
