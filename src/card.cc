#include "oodscore/card.h"

#include "oodscore/atomic_file.h"
#include "oodscore/error.h"
#include "oodscore/format.h"
#include "oodscore/version.h"

namespace oodscore {

namespace {

Orientation CardOrientation(const std::string& score) {
  ScoreInfo info;
  if (!LookupScore(score, &info)) throw Error("unknown score '" + score + "'");
  return info.orientation;
}

}  // namespace

std::string DetectorCard::ApplyColumn() const {
  return score == "msp" && log_msp_threshold ? "log_msp" : score;
}

bool DetectorCard::IsOod(double value) const {
  if (score == "msp" && log_msp_threshold) return !(value >= *log_msp_threshold);
  return CardOrientation(score) == Orientation::kHigherIsId ? !(value >= threshold)
                                                            : !(value <= threshold);
}

nlohmann::json CardJson(const DetectorCard& c) {
  const Orientation o = CardOrientation(c.score);
  nlohmann::json j = {
      {"kind", "oodscore-detector-card"},
      {"score", c.score},
      {"temperature", c.temperature},
      {"orientation", o == Orientation::kHigherIsId ? "higher_is_id" : "lower_is_id"},
      {"threshold", c.threshold},
      {"accept_as_id",
       c.score + (o == Orientation::kHigherIsId ? " >= " : " <= ") + FormatDouble(c.threshold)},
      {"tpr_target", c.tpr_target},
      {"tpr_achieved", c.tpr_achieved},
      {"n", c.n},
      {"id_set", c.id_set},
      {"model", {{"path", c.model_path}, {"sha256", c.model_sha256}}},
      {"preset", c.preset},
      {"tool", {{"name", "oodscore"}, {"version", ToolVersion()}, {"commit", GitCommit()}}}};
  if (c.log_msp_threshold) j["log_msp_threshold"] = *c.log_msp_threshold;
  return j;
}

DetectorCard ReadCard(const std::filesystem::path& path) {
  const std::string where = "detector card '" + path.string() + "'";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not valid JSON: " + e.what());
  }
  DetectorCard c;
  try {
    if (!j.is_object() || j.value("kind", "") != "oodscore-detector-card") {
      throw Error(where + ": missing \"kind\": \"oodscore-detector-card\" (is it a card?)");
    }
    c.score = j.at("score").get<std::string>();
    c.temperature = j.value("temperature", 1.0);
    c.threshold = j.at("threshold").get<double>();
    c.tpr_target = j.value("tpr_target", 0.0);
    c.tpr_achieved = j.value("tpr_achieved", 0.0);
    c.n = j.value("n", std::size_t{0});
    c.id_set = j.value("id_set", "");
    c.model_path = j.at("model").value("path", "");
    c.model_sha256 = j.at("model").at("sha256").get<std::string>();
    c.preset = j.at("preset");
    if (j.contains("log_msp_threshold")) c.log_msp_threshold = j["log_msp_threshold"].get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": " + e.what());
  }
  ScoreInfo info;
  if (!LookupScore(c.score, &info)) throw Error(where + ": unknown score '" + c.score + "'");
  if (!(c.temperature > 0)) throw Error(where + ": temperature must be > 0");
  return c;
}

}  // namespace oodscore
