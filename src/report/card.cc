#include "oodscore/card.h"

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/version.h"
#include "oodscore/error.h"

namespace oodscore {

std::string DetectorCard::ApplyColumn() const {
  const ScoreDef* def = FindScore(score);
  return log_msp_threshold && def && def->rank_column ? def->rank_column : score;
}

bool DetectorCard::IsOod(double value) const {
  // The rank column holds log(score), higher = ID (the catalogue's msp).
  if (ApplyColumn() != score) return !(value >= *log_msp_threshold);
  return orientation == Orientation::kHigherIsId ? !(value >= threshold) : !(value <= threshold);
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
  return j;
}

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
