#include "cli/scoring.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <variant>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/sha256.h"
#include "base/suggest.h"
#include "base/version.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/resume.h"
#include "model/detector_tuning.h"
#include "oodscore/error.h"
#include "oodscore/gate.h"
#include "oodscore/npy.h"
#include "oodscore/report.h"

namespace oodscore {

void AddModelOptions(CLI::App* cmd, ScoringOptions* opt) {
  cmd->add_option("--model", opt->model_path,
                  "TorchScript classifier (.pt) returning [N, K] logits; not for logits inputs "
                  "(a 2-D .npy [N, K])");
  cmd->add_option("--preset", opt->preset,
                  "preprocessing: a shipped preset (cifar10, cifar100, svhn, imagenet, mnist, "
                  "fashion-mnist; aliases such as fmnist, cifar-10 work) or a preset .json file");
  cmd->add_option("--max-skipped", opt->max_skipped,
                  "largest share of a set's files that may be unreadable, as 0.01 or 1%; more "
                  "exits 3 once every output is written (1 = no limit)")
      ->capture_default_str();
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
  cmd->add_option("--max-image-pixels", opt->pipeline.max_image_pixels,
                  "Pillow's MAX_IMAGE_PIXELS: larger images are scored with a warning, those over "
                  "twice it (or whose resize would be) are skipped as decompression bombs; 0 = no "
                  "limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--no-freeze", opt->no_freeze, "do not torch::jit::freeze the model");
  cmd->add_flag(
      "--no-optimize", opt->no_optimize,
      "CPU: skip torch::jit::optimize_for_inference (by default it runs, and is dropped if "
      "the first batch's logits move by more than 1e-5 of their largest magnitude)");
  cmd->add_flag("--channels-last", opt->model.channels_last,
                "CPU: NHWC batches (some CNNs run faster)");
}

void AddScoringOptions(CLI::App* cmd, ScoringOptions* opt) {
  AddModelOptions(cmd, opt);
  cmd->add_flag("--null,-0", opt->null_separated,
                "list files (and -i -) hold paths each ended by a NUL byte, as find -print0 and "
                "--flagged write them, instead of lines");
  cmd->add_option("--layout", opt->layout,
                  "folders: auto (class subfolders, or a flat folder; both is an error), classes "
                  "(ImageFolder), flat (every image below, no labels)")
      ->check(CLI::IsMember({"auto", "classes", "flat"}))
      ->capture_default_str();
  AddRunSpecOptions(cmd, &opt->spec);
}

DetectorFit LoadFitFor(const std::string& fit_path, const std::string& model_path,
                       const std::string& model_sha256, const nlohmann::json& preset_json,
                       const std::string& head) {
  DetectorFit fit = ReadFit(fit_path);
  if (fit.model_sha256 != model_sha256) {
    throw Error("fit file '" + fit_path + "' was made for the model with SHA-256 " +
                fit.model_sha256 + ", but '" + model_path + "' has " + model_sha256 +
                ": run `oodscore fit` on this model");
  }
  const nlohmann::json fit_preset =
      fit.preset_json.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(fit.preset_json);
  if (fit_preset != preset_json) {
    throw Error("fit file '" + fit_path + "' was made with preset " + DumpJson(fit_preset, -1) +
                ", this run uses " + DumpJson(preset_json, -1));
  }
  if (!head.empty() && head != fit.head.name) {
    throw UsageError("--head '" + head + "', but fit file '" + fit_path +
                     "' was made for the head '" + fit.head.name + "'");
  }
  return fit;
}

double MaxSkippedShare(const ScoringOptions& opt) {
  return ParseMetricValue(opt.max_skipped, "skipped_share", "--max-skipped");
}

namespace {

// True when no file below dir (outside `skip`) has an image extension (an upload folder on a
// quiet day, its quarantine folder aside).
bool FolderWithoutImages(const std::string& path, const SkipFolders& skip) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return false;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code skip_ec;
    if (!skip.empty() && it->is_directory(skip_ec)) {
      for (const auto& s : skip) {
        if (std::filesystem::equivalent(it->path(), s, skip_ec)) it.disable_recursion_pending();
      }
      continue;
    }
    if (HasImageExtension(it->path())) return false;
  }
  return !ec;
}

}  // namespace

std::vector<SampleSet> LoadInputs(const std::vector<std::string>& args, const std::string& layout,
                                  bool roles, bool allow_empty, bool null_separated,
                                  const SkipFolders& skip) {
  const Layout l = ParseLayout(layout);
  std::vector<std::string> names;
  for (const auto& arg : args) names.push_back(SplitNamed(arg).first);
  CheckSetNames(names, roles);
  std::vector<SampleSet> sets;
  for (const auto& arg : args) {
    auto [name, path] = SplitNamed(arg);
    if (allow_empty && FolderWithoutImages(path, skip)) {
      spdlog::info("set '{}': no images in '{}' (--allow-empty)", name, path);
      sets.push_back(SampleSet{});
      sets.back().name = name;
      sets.back().source = path;
      continue;
    }
    sets.push_back(ListInput(path, name, l, null_separated, skip));
    for (const auto& w : sets.back().warnings) spdlog::warn("{}", w);
    spdlog::info("set '{}': {} from '{}'{}", name, Counted(sets.back().samples.size(), "sample"),
                 path,
                 sets.back().classes.empty()
                     ? std::string()
                     : " (" + std::to_string(sets.back().classes.size()) + " classes)");
  }
  return sets;
}

CardRun CardRunOf(const ScoringOptions& opt, const ScoringResult& scored) {
  CardRun run;
  run.model_path = opt.model_path;
  run.model_sha256 = scored.model_sha256;
  run.preset = scored.run.value("preset", nlohmann::json(nullptr));
  if (scored.fit.is_object()) run.fit_sha256 = scored.fit.value("sha256", "");
  run.odin_temperature = opt.spec.odin_temperature;
  run.odin_epsilon = opt.spec.odin_epsilon;
  return run;
}

CardRun CardRunOf(const ScoreStamp& stamp, const std::string& model_path) {
  const RunSpec spec = RunSpec::FromStamp(stamp);
  CardRun run;
  run.model_path = model_path;
  run.model_sha256 = stamp.model_sha256;
  run.preset = stamp.preset;
  if (stamp.fit.is_object()) run.fit_sha256 = stamp.fit.value("sha256", "");
  run.odin_temperature = spec.odin_temperature;
  run.odin_epsilon = spec.odin_epsilon;
  return run;
}

DetectorCard MakeCard(const ScoreInfo& score, const IdThreshold& threshold, double tpr_target,
                      const std::string& id_set, const CardRun& run) {
  DetectorCard card;
  card.score = score.name;
  card.orientation = score.orientation;
  card.temperature = EnergyTemperature(score.name).value_or(1.0);
  const ScoreNeeds needs = FindScore(score.name)->needs;
  if (needs == ScoreNeeds::kPerturbation) {
    card.temperature = run.odin_temperature;
    card.odin_epsilon = run.odin_epsilon;
  }
  if (needs == ScoreNeeds::kFit) card.fit_sha256 = run.fit_sha256;
  card.threshold = RawThreshold(score, threshold.threshold);
  // Ranked by its log (msp by log_msp): the card keeps that exact threshold too.
  if (score.rank_column != score.name) card.log_msp_threshold = threshold.threshold;
  card.tpr_target = tpr_target;
  card.tpr_achieved = threshold.tpr_achieved;
  card.n = threshold.n;
  card.id_set = id_set;
  card.model_path = run.model_path;
  card.model_sha256 = run.model_sha256;
  card.preset = run.preset;
  return card;
}

nlohmann::json FitRecord(const std::string& fit_path, const DetectorFit& fit) {
  nlohmann::json record = {{"path", fit_path},
                           {"sha256", Sha256File(fit_path)},
                           {"head", fit.head.name},
                           {"train_path", fit.train_path},
                           {"train_samples", fit.train_samples},
                           {"bank_rows", fit.bank_rows},
                           {"tempscale_rows", fit.tempscale_rows}};
  for (const DetectorSettingDef& def : DetectorSettingTable()) {
    std::visit([&](auto m) { record[def.key] = fit.settings.*m; }, def.member);
  }
  // The sets its settings were tuned on: a run that evaluates one says so (eval).
  if (fit.tuning) record["tuned_on"] = TuningSetsJson(fit.tuning->sets);
  return record;
}

int SkippedVerdict(const PipelineStats& stats, double max_share) {
  if (max_share >= 1) return kExitOk;
  int code = kExitOk;
  for (const auto& c : SkippedChecks(stats.sets, max_share)) {
    if (c.pass) continue;
    spdlog::error("{}", c.message);
    code = kExitInput;
  }
  return code;
}

namespace {

// The preset: --preset, else the card's, else none (only .npy inputs need none).
Preset ResolvePreset(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                     const std::optional<DetectorCard>& card, bool streamed) {
  if (!opt.preset.empty()) return LoadPreset(opt.preset);
  if (card && !card->preset.is_null()) {
    spdlog::info("preset from the detector card: '{}'", card->preset.value("name", "?"));
    return PresetFromJson(card->preset.dump(), "detector card");
  }
  const std::string required =
      "--preset is required for image inputs (e.g. --preset cifar10, or a .json file)";
  if (streamed) throw UsageError(required);  // a streamed list names images
  for (const auto& s : sets) {
    for (const auto& sample : s.samples) {
      if (sample.npy == nullptr) throw UsageError(required);
    }
  }
  return Preset{};
}

void CheckCard(const DetectorCard& card, const std::string& model_path,
               const std::string& model_sha256, const nlohmann::json& preset) {
  if (card.model_sha256 != model_sha256) {
    throw Error("detector card was made for a model with SHA-256 " + card.model_sha256 + ", but '" +
                model_path + "' has " + model_sha256);
  }
  if (card.preset != preset) {
    throw Error("detector card was made with preset " + DumpJson(card.preset, -1) +
                ", this run uses " + DumpJson(preset, -1));
  }
}

// The run's score columns, from the run spec and the score catalogue, and the card's
// column (*card_column, -1 without a card); the CSV adds is_ood after them with a card.
std::vector<ScoreColumn> ScoreColumns(const RunSpec& spec, const std::optional<DetectorCard>& card,
                                      int* card_column) {
  std::vector<ScoreColumn> columns = spec.Columns();
  *card_column = -1;
  if (card) {
    const std::string apply = card->ApplyColumn();
    const auto it = std::find_if(columns.begin(), columns.end(),
                                 [&](const ScoreColumn& c) { return c.name == apply; });
    if (it == columns.end()) {
      throw Error("detector card's score '" + card->score + "' is not one this run computes" +
                  (IsFeatureScore(card->score)
                       ? std::string(" (it needs the model's fit file: give --fit)")
                       : ""));
    }
    *card_column = static_cast<int>(it - columns.begin());
  }
  return columns;
}

}  // namespace

double BenjaminiHochbergCutoff(std::vector<double> p, double q) {
  std::sort(p.begin(), p.end());
  const double m = static_cast<double>(p.size());
  for (std::size_t k = p.size(); k > 0; --k) {
    if (p[k - 1] <= static_cast<double>(k) * q / m) return p[k - 1];
  }
  return 0;
}

namespace {

// Paths of flagged samples, NUL-terminated (for xargs -0), as each batch ends.
class FlaggedWriter {
 public:
  explicit FlaggedWriter(const std::string& path) : path_(path) {
    if (path == "-") {
      file_ = stdout;
      return;
    }
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  }
  ~FlaggedWriter() {
    if (file_ && file_ != stdout) std::fclose(file_);
  }
  void Add(const std::string& sample_path) {
    buffer_ += sample_path;
    buffer_.push_back('\0');
  }
  void Flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
      throw Error("writing '" + path_ + "' failed: " + std::strerror(errno));
    buffer_.clear();
    if (std::fflush(file_) != 0)
      throw Error("writing '" + path_ + "' failed: " + std::strerror(errno));
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
};

// A model that rejects the preset's shape: say what the preset gives and which shipped
// presets the model's first layer would take.
Error WithPresetHint(const ModelInputError& e, const Preset& preset) {
  const InputHint& h = e.hint();
  std::vector<std::string> fit = PresetsThatFit(h.channels, 0, 0, h.features);
  std::string msg = e.what();
  int c = 0, height = 0, w = 0;
  if (!preset.source.empty()) {
    msg += ". The preset '" + preset.spec.name + "' gives " +
           (FixedOutputShape(preset.spec, &c, &height, &w)
                ? std::to_string(c) + "x" + std::to_string(height) + "x" + std::to_string(w)
                : std::to_string(c) + " channel(s)") +
           " per image";
  }
  msg += fit.empty() ? "; no shipped preset fits: write a preset .json with the model's input size"
                     : "; shipped presets that fit: " + JoinNames(fit);
  return Error(msg);
}

// True for a regular file that holds one line at most (a score CSV's header, no row).
bool IsHeaderOnly(const std::string& path) {
  std::error_code ec;
  if (path.empty() || path == "-" || !std::filesystem::is_regular_file(path, ec)) return false;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > (1u << 20)) return false;
  const std::string text = ReadFile(path);
  const std::size_t eol = text.find('\n');
  return eol == std::string::npos || eol + 1 == text.size();
}

// What a score CSV's stamp records (src/cli/score_stamp.h): everything that decides its rows.
ScoreStamp ScoreFileStamp(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                          const ScoringResult& result, const PipelineOptions& popt,
                          const nlohmann::json& preset_json,
                          const std::optional<DetectorCard>& card,
                          const std::optional<double>& alpha, const std::optional<double>& fdr) {
  ScoreStamp stamp;
  stamp.tool_version = ToolVersion();
  stamp.model_sha256 = result.model_sha256;
  stamp.argv = CommandLine();
  stamp.preset = preset_json;
  stamp.temperatures = popt.temperatures;
  stamp.odin = opt.spec.OdinJson();
  stamp.fit = result.fit;
  stamp.columns = result.table.columns;
  stamp.layout = opt.layout;
  stamp.batch_size = popt.batch_size;
  stamp.max_image_pixels = popt.max_image_pixels;
  stamp.card = card ? CardJson(*card) : nlohmann::json(nullptr);
  // The rule is_ood applied: the card's threshold, or p <= alpha.
  if (card && alpha) stamp.card["alpha"] = *alpha;
  if (card && fdr) stamp.card["fdr"] = *fdr;
  for (const auto& s : sets) {
    StampInput in{s.name, s.samples.size(), s.classes.size(), "", ""};
    if (!s.samples.empty()) {
      in.first = s.samples.front().path;
      in.last = s.samples.back().path;
    }
    stamp.inputs.push_back(in);
  }
  return stamp;
}

void WriteStamp(const std::string& csv_path, const ScoreStamp& stamp) {
  WriteFileAtomic(StampPath(csv_path), DumpJson(stamp.ToJson()) + "\n");
}

// Marks the stamp complete with this run's rows and, per set, its counts and the first and
// last index within the set (a shard's part of each set).
// The counts are exact after a --resume too (rows kept plus rows added); the skipped files
// listed are those of the last run.
// `digest` holds the CSV's bytes as flushed (nullptr: the file is hashed as it is, for a run
// that wrote no rows itself). A streamed run's sets found what the stats say arrived.
void FinishStamp(const std::string& csv_path, const std::vector<SampleSet>& mine,
                 const PipelineStats& stats, const ResumePlan& plan, const Sha256* digest,
                 bool streamed, ScoreStamp* stamp) {
  Sha256 file;
  if (!digest) {
    file.Update(ReadFile(csv_path));
    digest = &file;
  }
  stamp->has_digest = true;
  stamp->csv_bytes = digest->size();
  stamp->csv_sha256 = digest->HexDigest();
  stamp->rows = 0;
  stamp->sets.clear();
  for (std::size_t s = 0; s < mine.size(); ++s) {
    StampSet set;
    const bool counted = streamed && s < stats.sets.size();
    set.counts = {mine[s].name, counted ? stats.sets[s].found : mine[s].samples.size(), 0, 0, {}};
    SetCounts& c = set.counts;
    if (s < plan.rows_per_set.size()) c.scored += plan.rows_per_set[s];
    if (s < stats.sets.size()) c.scored += stats.sets[s].scored;
    c.skipped = c.found - std::min(c.found, c.scored);
    stamp->rows += c.scored;
    for (const auto& k : stats.skipped) {
      if (k.set == c.name) set.skipped.push_back(k);
    }
    if (stamp->shard && !mine[s].samples.empty()) {
      set.first_index = mine[s].offset;
      set.last_index = mine[s].offset + mine[s].samples.size() - 1;
    }
    stamp->sets.push_back(set);
  }
  stamp->complete = true;
  stamp->has_counts = true;
  stamp->num_classes = stats.num_classes;
  WriteStamp(csv_path, *stamp);
}

nlohmann::json RunStamp(const ScoringOptions& opt, const ScoringResult& result, const Model& model,
                        const PipelineOptions& popt, const nlohmann::json& preset_json,
                        const std::vector<SampleSet>& sets) {
  std::size_t scored = 0;
  nlohmann::json counts = nlohmann::json::array();
  for (std::size_t s = 0; s < sets.size(); ++s) {
    scored += result.stats.sets[s].scored;
    counts.push_back(SetCountsJson(result.stats.sets[s], result.stats.skipped));
  }
  const double secs = result.stats.seconds;
  return {{"tool", ToolJson()},
          {"libtorch", TorchVersion()},
          {"device", model.device()},
          {"dtype", model.dtype()},
          {"threads",
           {{"intra_op", IntraOpThreads()},
            {"workers", popt.workers > 0 ? popt.workers
                                         : static_cast<int>(std::thread::hardware_concurrency())}}},
          {"batch_size", popt.batch_size},
          {"graph", model.optimization()},
          {"model",
           {{"path", opt.model_path},
            {"sha256", result.model_sha256},
            {"num_classes", result.stats.num_classes}}},
          {"input_shape", {result.stats.channels, result.stats.height, result.stats.width}},
          {"preset", preset_json},
          {"preset_source", result.preset.source},
          {"layout", opt.layout},
          {"temperatures", popt.temperatures},
          {"odin", opt.spec.OdinJson()},
          {"fit", result.fit},
          {"sets", counts},
          {"wall_seconds", secs},
          {"images_per_second", secs > 0 ? scored / secs : 0.0}};
}

// Step 1, cheap checks before the expensive model load: preset, temperatures, the model's
// SHA-256, the card, the columns.
struct RunSetup {
  bool logits = false;  // every input is logits: no model, no preset
  PipelineOptions pipeline;
  std::shared_ptr<const DetectorFit> fit;  // with --fit
  nlohmann::json preset_json;
  std::vector<ScoreColumn> columns;  // the score CSV's columns and their getters (then is_ood)
  int card_column = -1;
};
RunSetup PrepareRun(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                    const ScoringOutputs& out, bool streamed, ScoringResult* result) {
  RunSetup setup;
  std::size_t logit_sets = 0;
  for (const auto& s : sets) logit_sets += s.logits;
  setup.logits = logit_sets > 0;
  if (setup.logits && logit_sets != sets.size()) {
    throw UsageError(
        "the inputs mix logits (2-D .npy [N, K]) with images: score them in "
        "separate runs");
  }
  if (setup.logits && (!opt.model_path.empty() || !opt.preset.empty())) {
    throw UsageError(
        "logits inputs (2-D .npy [N, K]) are scored as they are: give no --model "
        "and no --preset");
  }
  if (!setup.logits && opt.model_path.empty()) {
    throw UsageError("--model is required for image inputs (only logits .npy inputs need none)");
  }
  if (!setup.logits) result->preset = ResolvePreset(opt, sets, out.card, streamed);
  setup.preset_json = result->preset.json.empty() ? nlohmann::json(nullptr)
                                                  : nlohmann::json::parse(result->preset.json);
  setup.pipeline = opt.pipeline;
  setup.pipeline.temperatures = opt.spec.ColumnTemperatures();
  if (setup.logits) {
    if (out.card && !out.card->model_sha256.empty()) {
      spdlog::warn(
          "the detector card was made for the model with SHA-256 {}; logits inputs "
          "cannot show which model made them",
          out.card->model_sha256);
    }
  } else {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(opt.model_path, ec)) {
      throw Error("model file '" + opt.model_path + "' does not exist or is not a file");
    }
    result->model_sha256 = Sha256File(opt.model_path);
    if (out.card) CheckCard(*out.card, opt.model_path, result->model_sha256, setup.preset_json);
  }
  if (opt.spec.odin) {
    if (setup.logits) {
      throw UsageError(
          "--odin perturbs the input images through the model: it cannot score "
          "logits inputs");
    }
    setup.pipeline.odin =
        OdinOptions{opt.spec.odin_temperature, opt.spec.odin_epsilon, result->preset.spec.std};
  }
  if (opt.spec.fit()) {
    if (setup.logits) {
      throw UsageError("--fit's detectors work on the model's features: logits inputs have none");
    }
    setup.fit = std::make_shared<const DetectorFit>(LoadFitFor(
        opt.spec.fit_path, opt.model_path, result->model_sha256, setup.preset_json, opt.spec.head));
    result->fit = FitRecord(opt.spec.fit_path, *setup.fit);
    const std::string fit_sha = result->fit["sha256"];
    if (out.card && !out.card->fit_sha256.empty() && out.card->fit_sha256 != fit_sha) {
      throw Error("detector card was calibrated with the fit file of SHA-256 " +
                  out.card->fit_sha256 + ", but '" + opt.spec.fit_path + "' has " + fit_sha);
    }
  } else if (!opt.spec.head.empty() && !out.on_features) {
    throw UsageError("--head names the layer whose input the --fit detectors read: give --fit");
  }
  setup.columns = ScoreColumns(opt.spec, out.card, &setup.card_column);
  for (const auto& c : setup.columns) result->table.columns.push_back(c.name);
  if (out.card && !out.fdr) result->table.columns.push_back("is_ood");
  if (out.card && !out.card->calibration.empty()) result->table.columns.push_back("pvalue");
  // eval needs scores and labels; paths stream to the CSV, unless a baseline pairs by them.
  result->table.KeepPaths(out.keep_paths);
  return setup;
}

// Step 2, which samples this run scores: the shard's slice (all without --shard), less what
// a resumed CSV already holds; and the CSV's stamp, written before the first row.
struct WorkPlan {
  const std::vector<SampleSet>* all = nullptr;
  std::vector<SampleSet> shard_sets, remaining;
  bool sliced = false, resumed = false;
  ShardRange range;
  ResumePlan resume;
  ScoreStamp stamp;
  bool finished = false;  // nothing left to score (a complete CSV, or an empty shard)
  // The one set's samples as they arrive (score -i - from a pipe), instead of its list.
  const SampleChunks* stream = nullptr;
  // With a stamp: the CSV's bytes as they are flushed (the rows --resume kept first), which
  // the stamp records after each batch (csv_bytes, csv_sha256).
  Sha256 digest;
  bool digested = false;

  const std::vector<SampleSet>& mine() const { return sliced ? shard_sets : *all; }
  const std::vector<SampleSet>& to_score() const { return resumed ? remaining : mine(); }
  std::size_t size() const { return range.end - range.begin; }
};

void PlanWork(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
              const ScoringOutputs& out, const ScoringResult& result, const RunSetup& setup,
              WorkPlan* work) {
  const std::size_t batch = static_cast<std::size_t>(setup.pipeline.batch_size);
  std::size_t total = 0;
  for (const auto& s : sets) total += s.samples.size();
  work->all = &sets;
  work->range = {0, total};
  if (out.shard) {
    work->range = RangeOfShard(total, batch, *out.shard);
    work->shard_sets = SliceSets(sets, work->range);
    work->sliced = true;
    spdlog::info("shard {}/{}: samples {}..{} of {}", out.shard->index, out.shard->count,
                 work->range.begin, work->range.end, total);
  }
  if (out.stamp) {
    work->stamp = ScoreFileStamp(opt, sets, result, setup.pipeline, setup.preset_json, out.card,
                                 out.alpha, out.fdr);
    if (out.shard) {
      work->stamp.shard =
          StampShard{out.shard->index, out.shard->count, work->range.begin, work->range.end};
    }
    std::error_code ec;
    if (out.resume && std::filesystem::exists(out.csv_path, ec)) {
      work->resume =
          PlanResume(out.csv_path, work->stamp, work->mine(), batch, result.table.columns);
      spdlog::info("--resume: '{}' holds {} rows; continuing after sample {} of {}", out.csv_path,
                   work->resume.rows, work->resume.done, work->size());
      if (work->resume.complete) {
        spdlog::info("--resume: '{}' is already complete", out.csv_path);
        work->finished = true;
        return;
      }
    }
    work->stamp.model_path = opt.model_path;
    work->stamp.complete = false;
    // No bytes vouched for yet: a CSV that a run killed before its first batch's stamp
    // leaves behind is scored again by --resume.
    work->stamp.has_digest = true;
    work->stamp.csv_bytes = 0;
    work->stamp.csv_sha256 = Sha256().HexDigest();
    // A stream's stamp waits for its first sample: input that names none leaves no file.
    if (!work->stream) WriteStamp(out.csv_path, work->stamp);
    if (work->resume.done > 0) {
      work->remaining = Remaining(work->mine(), work->resume.done);
      work->resumed = true;
    }
  }
  if (work->resume.done == work->size() && work->size() > 0) {
    // Every row was written before the run was stopped; only the stamp was left to finish.
    work->finished = true;
  } else if (work->size() == 0 && !work->stream && (out.shard || out.allow_empty)) {
    // More shards than batches, or a quiet day's empty inputs (--allow-empty): nothing to
    // score, and the stamp says so.
    if (out.shard) {
      spdlog::warn("shard {}/{} has no samples ({} samples make {} batch(es) of {})",
                   out.shard->index, out.shard->count, total, (total + batch - 1) / batch, batch);
    } else {
      spdlog::info("no samples to score (--allow-empty): the CSV holds its header only");
    }
    if (!out.csv_path.empty()) ScoreWriter(out.csv_path, result.table.columns).Close();
    work->finished = true;
  }
}

// Where scored samples go: a row of the CSV, the flagged list (with a card) and, for eval,
// the kept table.
class RowSink {
 public:
  RowSink(const ScoringOutputs& out, const RunSetup& setup, WorkPlan* work, ScoringResult* result)
      : out_(out), setup_(setup), work_(work), result_(result) {
    if (!out.csv_path.empty()) {
      writer_ = std::make_unique<ScoreWriter>(out.csv_path, result->table.columns,
                                              /*append=*/work->resumed);
    }
    if (writer_ && out.stamp) {
      // The digest covers the whole file: the rows --resume kept (checked against the old
      // stamp's digest), then each batch as it is flushed.
      work->digest = Sha256();
      if (work->resumed) work->digest.Update(ReadFile(out.csv_path));
      work->digested = true;
      stamped_bytes_ = work->digest.size();
      writer_->OnFlushed([work](std::string_view bytes) { work->digest.Update(bytes); });
    }
    if (!out.flagged_path.empty()) flagged_ = std::make_unique<FlaggedWriter>(out.flagged_path);
    if (out.quarantine && out.card) {
      quarantine_ = std::make_unique<Quarantine>(*out.quarantine, *work->all,
                                                 setup.columns[setup.card_column].name);
    }
  }

  void Add(const std::string& set, const Sample& sample, const LogitScores& scores) {
    row_.set = set;
    row_.path = sample.path;
    row_.label = sample.label;
    row_.pred = std::to_string(scores.pred);
    row_.values.clear();
    for (const auto& c : setup_.columns) row_.values.push_back(c.Value(scores));
    if (out_.card) {
      const double value = row_.values[setup_.card_column];
      const bool has_p = !out_.card->calibration.empty();
      const double p = has_p ? out_.card->PValue(value) : 0.0;
      if (out_.fdr) {
        // Decided when the run ends, over every p-value (Close).
        row_.values.push_back(p);
        fdr_p_.push_back(p);
        fdr_paths_.push_back(row_.path);
        if (writer_) writer_->Write(row_);
        if (out_.keep_rows) {
          result_->table.AddRow(row_.set, row_.path, row_.label, row_.pred, row_.values.data());
        }
        return;
      }
      const bool ood = out_.alpha ? p <= *out_.alpha : out_.card->IsOod(value);
      row_.values.push_back(ood ? 1.0 : 0.0);
      if (has_p) row_.values.push_back(p);
      if (ood && flagged_) flagged_->Add(row_.path);
      if (ood && quarantine_) quarantine_->Add(set, row_.path, row_.values[setup_.card_column]);
      result_->flagged += ood;
    }
    if (writer_) writer_->Write(row_);
    if (out_.keep_rows) {
      result_->table.AddRow(row_.set, row_.path, row_.label, row_.pred, row_.values.data());
    }
  }
  void EndBatch() {
    if (writer_) writer_->Flush();
    if (flagged_) flagged_->Flush();
    if (work_->digested && work_->digest.size() != stamped_bytes_) {
      // The stamp vouches for the rows flushed so far, should the run stop here.
      work_->stamp.csv_bytes = work_->digest.size();
      work_->stamp.csv_sha256 = work_->digest.HexDigest();
      try {
        WriteStamp(out_.csv_path, work_->stamp);
        stamped_bytes_ = work_->stamp.csv_bytes;
      } catch (const Error& e) {
        // The stamp on disk still vouches truly for the rows before (disk full: the CSV's
        // own write reports it); --resume scores the rest again.
        if (!stamp_failed_) spdlog::warn("{}", e.what());
        stamp_failed_ = true;
      }
    }
    // Only now, with their rows on disk, do the batch's flagged files leave (the decoder
    // reads ahead, but only later batches' files, which are still in place).
    PlaceFlagged();
  }
  void Close() {
    if (writer_) writer_->Close();
    if (out_.fdr) {
      result_->pvalues = fdr_p_.size();
      result_->fdr_cutoff = BenjaminiHochbergCutoff(fdr_p_, *out_.fdr);
      for (std::size_t i = 0; i < fdr_p_.size(); ++i) {
        if (result_->fdr_cutoff > 0 && fdr_p_[i] <= result_->fdr_cutoff) {
          ++result_->flagged;
          if (flagged_) flagged_->Add(fdr_paths_[i]);
        }
      }
    }
    if (flagged_) flagged_->Flush();
    PlaceFlagged();
  }

 private:
  const ScoringOutputs& out_;
  const RunSetup& setup_;
  WorkPlan* work_;
  ScoringResult* result_;
  std::uint64_t stamped_bytes_ = 0;  // the CSV bytes the stamp on disk vouches for
  bool stamp_failed_ = false;
  std::unique_ptr<ScoreWriter> writer_;
  std::unique_ptr<FlaggedWriter> flagged_;
  std::unique_ptr<Quarantine> quarantine_;
  ScoreRow row_;
  std::vector<double> fdr_p_;  // with --fdr: every p-value, and its path
  std::vector<std::string> fdr_paths_;

  void PlaceFlagged() {
    if (!quarantine_) return;
    quarantine_->Flush();
    result_->placed = quarantine_->placed();
    result_->left_in_place = quarantine_->left();
  }
};

// The stream's chunks, each recorded in the stamp's input as it is taken: how many samples
// arrived, the first and the last. The stamp is first written with the first chunk.
SampleChunks StampedChunks(const ScoringOutputs& out, WorkPlan* work) {
  return [&out, work](std::vector<Sample>* chunk) {
    const bool more = (*work->stream)(chunk);
    if (more && !chunk->empty() && out.stamp) {
      StampInput& in = work->stamp.inputs.front();
      const bool first = in.found == 0;
      if (first) in.first = chunk->front().path;
      in.last = chunk->back().path;
      in.found += chunk->size();
      if (first) WriteStamp(out.csv_path, work->stamp);
    }
    return more;
  };
}

// A stream that named no files is the empty list it is, unless --allow-empty: then the CSV
// holds its header only.
void CheckStreamed(const ScoringOptions& opt, const ScoringOutputs& out,
                   const PipelineStats& stats) {
  if (stats.sets.front().found > 0) return;
  if (!out.allow_empty) {
    throw Error("list '-' names no files" + std::string(opt.null_separated ? " (--null)" : ""));
  }
  spdlog::info("no samples to score (--allow-empty): the CSV holds its header only");
}

Progress MakeProgress(const ScoringOptions& opt, const WorkPlan& work) {
  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
  for (const auto& s : work.to_score()) {
    names.push_back(s.name);
    sizes.push_back(s.samples.size());
  }
  return Progress(opt.quiet, names, sizes);
}

// Step 3: the model over the samples, rows written (and kept, for eval) batch by batch.
std::unique_ptr<Model> ScoreSamples(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                                    const ScoringOutputs& out, const RunSetup& setup,
                                    WorkPlan* work_plan, ScoringResult* result) {
  const WorkPlan& work = *work_plan;
  ModelOptions model_opt = opt.model;
  model_opt.freeze = !opt.no_freeze;
  model_opt.optimize = !opt.no_optimize && !opt.no_freeze;
  model_opt.odin = opt.spec.odin;
  model_opt.features = setup.fit != nullptr || out.on_features;
  model_opt.head = setup.fit ? setup.fit->head.name : opt.spec.head;
  auto model = Model::Load(opt.model_path, model_opt);
  PipelineOptions pipeline = setup.pipeline;
  pipeline.features = model_opt.features;
  std::unique_ptr<FeatureScorer> detectors;
  if (setup.fit) {
    detectors = MakeFeatureScorer(*setup.fit, model->device());
    pipeline.detectors = detectors.get();
    pipeline.detector_classes = setup.fit->head.classes;
    pipeline.detector_dim = setup.fit->head.dim;
    pipeline.detector_source = "fit file '" + opt.spec.fit_path + "'";
  }
  if (SetOmpWaitPolicy())
    spdlog::debug("OMP_WAIT_POLICY=PASSIVE (set by oodscore before loading LibTorch)");
  spdlog::info("model '{}' on {} ({}), {} intra-op threads", opt.model_path, model->device(),
               model->dtype(), IntraOpThreads());
  RowSink sink(out, setup, work_plan, result);
  Progress progress = MakeProgress(opt, work);
  PipelineCallbacks cb;
  cb.on_row = [&](const ScoredSample& s) {
    sink.Add(sets[s.set_index].name, *s.sample, s.scores);
    if (out.on_features) out.on_features(s);
  };
  cb.on_batch_end = [&] { sink.EndBatch(); };
  cb.on_progress = [&](std::size_t done, std::size_t total) { progress.Update(done, total); };
  try {
    if (work.stream) {
      result->stats = RunPipelineStream(sets.front().name, StampedChunks(out, work_plan),
                                        result->preset.spec, *model, pipeline, cb);
      CheckStreamed(opt, out, result->stats);
    } else {
      result->stats = RunPipeline(work.to_score(), result->preset.spec, *model, pipeline, cb);
    }
  } catch (const ModelInputError& e) {
    throw WithPresetHint(e, result->preset);
  }
  sink.Close();
  if (model_opt.features) result->head = model->head();
  return model;
}

// Step 3 for logits inputs: each row of each .npy is already a sample's logits.
void ScoreLogits(const ScoringOptions& opt, const ScoringOutputs& out, const RunSetup& setup,
                 WorkPlan* work_plan, ScoringResult* result) {
  const WorkPlan& work = *work_plan;
  const auto start = std::chrono::steady_clock::now();
  RowSink sink(out, setup, work_plan, result);
  Progress progress = MakeProgress(opt, work);
  std::size_t total = 0, done = 0;
  for (const auto& s : work.to_score()) total += s.samples.size();
  LogitScores scores;
  // As a model run checks its first batch: logits that are probabilities make most scores
  // meaningless (energy of a softmax), so the first rows are looked at.
  const std::size_t first_rows = static_cast<std::size_t>(opt.pipeline.batch_size);
  bool probabilities = true;
  for (const auto& set : work.to_score()) {
    SetCounts counts{set.name, set.samples.size(), 0, 0, {}};
    for (const Sample& sample : set.samples) {
      const NpyArray& a = *sample.npy;
      const int k = static_cast<int>(a.row_floats());
      if (result->stats.num_classes == 0) result->stats.num_classes = k;
      if (k != result->stats.num_classes || k < 2) {
        throw Error(
            "'" + a.path() + "' holds logits of " + std::to_string(k) + " classes, expected " +
            (k < 2 ? std::string("at least 2")
                   : std::to_string(result->stats.num_classes) + " like the inputs before it"));
      }
      if (a.float64()) {
        ComputeLogitScores(a.row64(sample.npy_index), k, setup.pipeline.temperatures, &scores);
      } else {
        ComputeLogitScores(a.row(sample.npy_index), k, setup.pipeline.temperatures, &scores);
      }
      if (!scores.finite) throw Error("NaN or Inf logits in '" + sample.path + "'");
      if (done < first_rows && probabilities) {
        probabilities = a.float64() ? LooksLikeProbabilities(a.row64(sample.npy_index), k)
                                    : LooksLikeProbabilities(a.row(sample.npy_index), k);
      }
      sink.Add(set.name, sample, scores);
      ++counts.scored;
      if (++done % 4096 == 0) {
        sink.EndBatch();
        progress.Update(done, total);
      }
    }
    result->stats.sets.push_back(counts);
  }
  sink.EndBatch();
  progress.Update(done, total);
  sink.Close();
  if (done > 0 && probabilities) {
    result->stats.notes.push_back(
        "the logits .npy rows look like probabilities (each of the first " +
        std::to_string(std::min(done, first_rows)) +
        " is a softmax or log_softmax): energy, maxlogit and GEN need raw logits; save the "
        "model's outputs from before its softmax");
  }
  result->stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a logits run records in place of the model's facts.
nlohmann::json LogitsRunStamp(const ScoringResult& result, const PipelineOptions& popt,
                              const std::vector<SampleSet>& sets) {
  nlohmann::json counts = nlohmann::json::array();
  std::vector<std::string> files;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    counts.push_back(SetCountsJson(result.stats.sets[s], result.stats.skipped));
    if (!sets[s].samples.empty()) files.push_back(sets[s].samples.front().npy->path());
  }
  return {{"tool", ToolJson()},    {"input", "logits"},
          {"logits_files", files}, {"model", {{"num_classes", result.stats.num_classes}}},
          {"preset", nullptr},     {"temperatures", popt.temperatures},
          {"sets", counts},        {"wall_seconds", result.stats.seconds}};
}

}  // namespace

ScoringResult RunScoring(const ScoringOptions& opt, const std::vector<SampleSet>& sets,
                         const ScoringOutputs& out, const SampleChunks* stream) {
  opt.spec.CheckFlags();
  RunPaths paths = out.paths;
  paths.Read("--model", opt.model_path);
  for (const auto& library : ModelLibraryCandidates()) paths.Read("the model library", library);
  paths.Read("--preset", opt.preset);
  paths.Read("--fit", opt.spec.fit_path);
  paths.ReadSets(out.input_flag, sets);
  paths.Write(out.csv_flag, out.csv_path);
  if (out.stamp) paths.Write(out.csv_flag + "'s stamp", StampPath(out.csv_path));
  paths.Write("--flagged", out.flagged_path);
  paths.Write("--skipped", out.skipped_path);
  if (out.quarantine) {
    CheckQuarantine(*out.quarantine, sets);
    paths.Write(out.quarantine->flag, out.quarantine->dir);
  }
  paths.Check();
  ScoringResult result;
  if (stream && (sets.size() != 1 || !sets.front().samples.empty() || out.shard || out.resume)) {
    throw Error("internal error: a stream is one set, scored whole and from its start");
  }
  const RunSetup setup = PrepareRun(opt, sets, out, stream != nullptr, &result);
  WorkPlan work;
  work.stream = stream;
  PlanWork(opt, sets, out, result, setup, &work);
  if (work.finished) {
    if (work.resume.complete) return result;
    for (const auto& s : work.mine()) result.stats.sets.push_back({s.name, 0, 0, 0, {}});
    if (out.stamp) {
      FinishStamp(out.csv_path, work.mine(), result.stats, work.resume, nullptr, false,
                  &work.stamp);
    }
    return result;
  }
  std::unique_ptr<Model> model;
  try {
    if (setup.logits) {
      ScoreLogits(opt, out, setup, &work, &result);
    } else {
      model = ScoreSamples(opt, sets, out, setup, &work, &result);
    }
  } catch (...) {
    // A run that fails before its CSV holds a row leaves neither a header-only CSV nor a stamp
    // behind (every sample skipped, the model failing on the first batch); a CSV with rows
    // and its stamp stay: the stamp marks them incomplete, for --resume. A resumed CSV was
    // there before: it stays.
    std::error_code ec;
    const bool header_only = !work.resumed && IsHeaderOnly(out.csv_path);
    if (header_only) std::filesystem::remove(out.csv_path, ec);
    if (out.stamp && (header_only || !std::filesystem::exists(out.csv_path, ec) ||
                      std::filesystem::file_size(out.csv_path, ec) == 0)) {
      std::filesystem::remove(StampPath(out.csv_path), ec);
    }
    throw;
  }
  // Step 4: the stamp, the log, the run record.
  if (out.stamp) {
    FinishStamp(out.csv_path, work.mine(), result.stats, work.resume,
                work.digested ? &work.digest : nullptr, work.stream != nullptr, &work.stamp);
  }
  for (const auto& s : sets) result.classes.push_back(s.classes);
  for (const auto& note : result.stats.notes) spdlog::warn("{}", note);
  if (!out.skipped_path.empty()) {
    FlaggedWriter skipped(out.skipped_path);
    for (const auto& k : result.stats.skipped) skipped.Add(k.path);
    skipped.Flush();
  }
  for (const auto& k : result.stats.warnings) spdlog::warn("'{}': {}", k.path, k.reason);
  for (const auto& k : result.stats.skipped) spdlog::warn("skipped '{}': {}", k.path, k.reason);
  std::size_t scored = 0;
  for (const auto& c : result.stats.sets) scored += c.scored;
  const double secs = result.stats.seconds;
  spdlog::info("scored {} in {:.2f}s ({:.0f}/s), {} skipped", Counted(scored, "sample"), secs,
               secs > 0 ? scored / secs : 0.0, result.stats.skipped.size());
  if (!model) {
    result.run = LogitsRunStamp(result, setup.pipeline, sets);
    return result;
  }
  spdlog::debug("model graph: {}", model->optimization());
  result.run = RunStamp(opt, result, *model, setup.pipeline, setup.preset_json, sets);
  return result;
}

}  // namespace oodscore
