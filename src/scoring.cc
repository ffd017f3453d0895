#include "scoring.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "cli.h"
#include "oodscore/error.h"
#include "oodscore/report.h"
#include "oodscore/sha256.h"
#include "oodscore/version.h"

namespace oodscore {

void AddScoringOptions(CLI::App* cmd, ScoringOptions* opt) {
  cmd->add_option("--model", opt->model_path,
                  "TorchScript classifier (.pt) returning [N, K] logits")
      ->required();
  cmd->add_option("--preset", opt->preset,
                  "preprocessing: a shipped preset (cifar10, cifar100, svhn, imagenet, mnist, "
                  "fashion-mnist) or a preset .json file");
  cmd->add_option("--temperature,-T", opt->temperatures,
                  "energy temperature(s) T > 0; energy at T=1 is always written, each other T adds "
                  "a column energy_T<T>");
  cmd->add_option("--device", opt->model.device, "cpu, cuda, cuda:N or auto (CUDA when available)")
      ->capture_default_str();
  cmd->add_flag("--half", opt->model.half, "CUDA: run the model in float16");
  cmd->add_option("--batch-size", opt->pipeline.batch_size, "images per forward pass")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--workers", opt->pipeline.workers,
                  "decode/preprocess threads (0 = number of cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--threads", opt->model.threads,
                  "LibTorch intra-op threads (0 = number of cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_flag("--strict", opt->pipeline.strict,
                "an unreadable image is an error (exit 3), not skipped");
  cmd->add_flag("--no-freeze", opt->no_freeze, "do not torch::jit::freeze the model");
  cmd->add_flag(
      "--no-optimize", opt->no_optimize,
      "CPU: skip torch::jit::optimize_for_inference (by default it runs, and is dropped if "
      "the first batch's logits move by more than 1e-5 of their largest magnitude)");
  cmd->add_flag("--channels-last", opt->model.channels_last,
                "CPU: NHWC batches (some CNNs run faster)");
}

std::vector<SampleSet> LoadInputs(const std::vector<std::string>& args) {
  std::vector<SampleSet> sets;
  for (const auto& arg : args) {
    auto [name, path] = SplitNamed(arg);
    for (const auto& s : sets) {
      if (s.name == name) {
        throw UsageError("two inputs are named '" + name + "'; name them with NAME=PATH");
      }
    }
    sets.push_back(ListInput(path, name));
    for (const auto& w : sets.back().warnings) spdlog::warn("{}", w);
    spdlog::info("set '{}': {} samples from '{}'{}", name, sets.back().samples.size(), path,
                 sets.back().classes.empty()
                     ? std::string()
                     : " (" + std::to_string(sets.back().classes.size()) + " classes)");
  }
  return sets;
}

namespace {

class Progress {
 public:
  Progress(bool quiet) : quiet_(quiet), tty_(::isatty(2)), start_(Clock::now()), last_(start_) {}

  void Update(std::size_t done, std::size_t total) {
    if (quiet_) return;
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const bool last = done == total;
    if (!last && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10)))
      return;
    last_ = now;
    const double rate = elapsed > 0 ? done / elapsed : 0;
    const double eta = rate > 0 ? (total - done) / rate : 0;
    if (tty_) {
      const int width = 30,
                filled = static_cast<int>(width * done / std::max<std::size_t>(total, 1));
      std::fprintf(stderr, "\r[%s%s] %zu/%zu  %.0f img/s  ETA %.0fs ",
                   std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(), done,
                   total, rate, eta);
      if (last) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else {
      spdlog::info("{}/{} scored, {:.0f} img/s, ETA {:.0f}s", done, total, rate, eta);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool quiet_, tty_;
  Clock::time_point start_, last_;
};

}  // namespace

DetectorCard MakeCard(const ScoreInfo& score, const IdThreshold& threshold, double tpr_target,
                      const std::string& id_set, const ScoringOptions& opt,
                      const ScoringResult& scored) {
  DetectorCard card;
  card.score = score.name;
  card.temperature = EnergyTemperature(score.name).value_or(1.0);
  card.threshold = RawThreshold(score, threshold.threshold);
  if (score.rank_column == "log_msp") card.log_msp_threshold = threshold.threshold;
  card.tpr_target = tpr_target;
  card.tpr_achieved = threshold.tpr_achieved;
  card.n = threshold.n;
  card.id_set = id_set;
  card.model_path = opt.model_path;
  card.model_sha256 = scored.model_sha256;
  card.preset = scored.run["preset"];
  return card;
}

ScoringResult RunScoring(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                         const std::string& csv_path, bool keep_rows,
                         const std::optional<DetectorCard>& card) {
  ScoringResult result;
  bool all_npy = true;
  for (const auto& s : sets) {
    for (const auto& sample : s.samples) all_npy = all_npy && sample.npy != nullptr;
  }
  if (opt.preset.empty() && !all_npy) {
    throw UsageError(
        "--preset is required for image inputs (e.g. --preset cifar10, or a .json file)");
  }
  if (!opt.preset.empty()) result.preset = LoadPreset(opt.preset);
  const nlohmann::json preset_json = result.preset.json.empty()
                                         ? nlohmann::json(nullptr)
                                         : nlohmann::json::parse(result.preset.json);

  // Cheap checks before the expensive model load.
  std::vector<double> temps = {1.0};
  for (double t : opt.temperatures) {
    if (!(t > 0) || !std::isfinite(t))
      throw UsageError("temperature must be > 0, got " + std::to_string(t));
    if (std::find(temps.begin(), temps.end(), t) == temps.end()) temps.push_back(t);
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(opt.model_path, ec)) {
    throw Error("model file '" + opt.model_path + "' does not exist or is not a file");
  }
  result.model_sha256 = Sha256File(opt.model_path);
  if (card) {
    if (card->model_sha256 != result.model_sha256) {
      throw Error("detector card was made for a model with SHA-256 " + card->model_sha256 +
                  ", but '" + opt.model_path + "' has " + result.model_sha256);
    }
    if (card->preset != preset_json) {
      throw Error("detector card was made with preset " + card->preset.dump() + ", this run uses " +
                  preset_json.dump());
    }
    if (std::find(temps.begin(), temps.end(), card->temperature) == temps.end()) {
      temps.push_back(card->temperature);
    }
  }

  ModelOptions model_opt = opt.model;
  model_opt.freeze = !opt.no_freeze;
  model_opt.optimize = !opt.no_optimize && !opt.no_freeze;
  auto model = Model::Load(opt.model_path, model_opt);
  spdlog::info("model '{}' on {} ({}), {} intra-op threads", opt.model_path, model->device(),
               model->dtype(), IntraOpThreads());

  // Columns: energy, msp, maxlogit, energy_T<t>..., log_msp, entropy[, is_ood].
  std::vector<std::string> columns = {"energy", "msp", "maxlogit"};
  for (std::size_t t = 1; t < temps.size(); ++t) columns.push_back(EnergyColumn(temps[t]));
  columns.push_back("log_msp");
  columns.push_back("entropy");
  int card_column = -1;
  if (card) {
    const std::string apply = card->ApplyColumn();
    card_column =
        static_cast<int>(std::find(columns.begin(), columns.end(), apply) - columns.begin());
    if (card_column == static_cast<int>(columns.size())) {
      throw Error("detector card's score '" + card->score + "' is not one this run computes");
    }
    columns.push_back("is_ood");
  }
  result.table.columns = columns;

  std::unique_ptr<ScoreWriter> writer;
  if (!csv_path.empty()) writer = std::make_unique<ScoreWriter>(csv_path, columns);

  PipelineOptions popt = opt.pipeline;
  popt.temperatures = temps;
  Progress progress(opt.quiet);
  ScoreRow row;
  PipelineCallbacks cb;
  cb.on_row = [&](const ScoredSample& s) {
    row.set = sets[s.set_index].name;
    row.path = s.sample->path;
    row.label = s.sample->label;
    row.pred = std::to_string(s.scores.pred);
    row.values.clear();
    row.values.push_back(s.scores.energy[0]);
    row.values.push_back(s.scores.msp);
    row.values.push_back(s.scores.maxlogit);
    for (std::size_t t = 1; t < temps.size(); ++t) row.values.push_back(s.scores.energy[t]);
    row.values.push_back(s.scores.log_msp);
    row.values.push_back(s.scores.entropy);
    if (card) row.values.push_back(card->IsOod(row.values[card_column]) ? 1.0 : 0.0);
    if (writer) writer->Write(row);
    if (keep_rows) result.table.rows.push_back(row);
  };
  cb.on_batch_end = [&] {
    if (writer) writer->Flush();
  };
  cb.on_progress = [&](std::size_t done, std::size_t total) { progress.Update(done, total); };
  PreprocessSpec spec = result.preset.spec;
  result.stats = RunPipeline(sets, spec, *model, popt, cb);
  if (writer) writer->Close();

  std::size_t scored = 0;
  nlohmann::json counts = nlohmann::json::array();
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const SetCounts& c = result.stats.sets[s];
    scored += c.scored;
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& k : result.stats.skipped) {
      if (k.set == c.name) skipped.push_back({{"path", k.path}, {"reason", k.reason}});
    }
    counts.push_back({{"name", c.name},
                      {"found", c.found},
                      {"scored", c.scored},
                      {"skipped", c.skipped},
                      {"skipped_files", skipped}});
    result.classes.push_back(sets[s].classes);
  }
  for (const auto& k : result.stats.skipped) {
    spdlog::warn("skipped '{}': {}", k.path, k.reason);
  }
  const double secs = result.stats.seconds;
  spdlog::debug("model graph: {}", model->optimization());
  spdlog::info("scored {} samples in {:.2f}s ({:.0f} img/s), {} skipped", scored, secs,
               secs > 0 ? scored / secs : 0.0, result.stats.skipped.size());
  result.run = {
      {"tool", {{"name", "oodscore"}, {"version", ToolVersion()}, {"commit", GitCommit()}}},
      {"libtorch", TorchVersion()},
      {"device", model->device()},
      {"dtype", model->dtype()},
      {"threads",
       {{"intra_op", IntraOpThreads()},
        {"workers",
         popt.workers > 0 ? popt.workers : static_cast<int>(std::thread::hardware_concurrency())}}},
      {"batch_size", popt.batch_size},
      {"graph", model->optimization()},
      {"model",
       {{"path", opt.model_path},
        {"sha256", result.model_sha256},
        {"num_classes", result.stats.num_classes}}},
      {"input_shape", {result.stats.channels, result.stats.height, result.stats.width}},
      {"preset", preset_json},
      {"preset_source", result.preset.source},
      {"temperatures", temps},
      {"sets", counts},
      {"wall_seconds", secs},
      {"images_per_second", secs > 0 ? scored / secs : 0.0}};
  return result;
}

}  // namespace oodscore
