// oodscore fit: what the feature-space detectors need from ID training images, computed once
// (include/oodscore/detectors.h) and written as a fit file for --fit.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <variant>

#include "base/format.h"
#include "cli/cli.h"
#include "cli/scoring.h"
#include "cli/tuning_sets.h"
#include "model/detector_tuning.h"
#include "model/feature_spill.h"
#include "oodscore/detectors.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct FitCommand {
  ScoringOptions scoring;
  std::string train;
  std::string output;
  std::string spill_dir;  // "" = the output's folder
  DetectorSettings settings;
  // OpenOOD's parameter search: ID and OOD validation images (src/model/detector_tuning.h).
  std::string val;
  std::vector<std::string> val_ood;  // NAME=DIR, pooled
};

// Validation features in memory (validation sets are small: OpenOOD's are 1,000 to 10,000
// images).
struct ValFeatures {
  std::vector<float> values;
  std::int64_t rows = 0;
  void Append(const float* f, int dim) {
    values.insert(values.end(), f, f + dim);
    ++rows;
  }
};

// Each validation set as the fit records it, so that eval can say when it evaluates one.
std::vector<TuningSet> TuningSets(const std::vector<SampleSet>& sets, const PipelineStats& stats) {
  std::vector<TuningSet> out;
  for (std::size_t i = 1; i < sets.size(); ++i) {
    out.push_back(DescribeTuningSet(sets[i], i == 1 ? "id" : "ood",
                                    static_cast<std::int64_t>(stats.sets[i].scored)));
  }
  return out;
}

// The folders' classes must be the model's, in its order (Mahalanobis' class means): say so
// when their number differs, or when the model disagrees with most of the folders' labels.
void CheckClassOrder(const std::vector<std::string>& classes, const HeadWeights& head,
                     std::size_t agree, std::size_t n) {
  const double accuracy = n > 0 ? static_cast<double>(agree) / static_cast<double>(n) : 0.0;
  spdlog::info("training accuracy {:.2f}% ({} of {} images predicted as their folder's class)",
               100 * accuracy, agree, n);
  if (classes.size() != static_cast<std::size_t>(head.classes)) {
    spdlog::warn(
        "--train has {} class folders, the model's head {} classes: folder i (in "
        "sorted order) is taken as class i",
        classes.size(), head.classes);
  }
  if (accuracy < 0.5) {
    spdlog::warn(
        "the model predicts the folder's class for only {:.2f}% of the training images: "
        "are the folders the model's classes, in its order? (Mahalanobis' class means "
        "depend on it)",
        100 * accuracy);
  }
}

int RunFit(FitCommand& cmd) {
  const double max_skipped = MaxSkippedShare(cmd.scoring);
  if (cmd.val.empty() != cmd.val_ood.empty()) {
    throw UsageError(cmd.val.empty() ? "--val-ood needs --val (the ID validation images)"
                                     : "--val needs --val-ood NAME=DIR (the OOD validation "
                                       "images the search tells apart from --val's)");
  }
  std::vector<std::string> inputs = {"train=" + cmd.train};
  if (!cmd.val.empty()) {
    inputs.push_back("val=" + cmd.val);
    inputs.insert(inputs.end(), cmd.val_ood.begin(), cmd.val_ood.end());
  }
  auto sets = LoadInputs(inputs, "auto", /*roles=*/false);
  if (sets[0].classes.empty()) {  // Mahalanobis needs each image's class
    throw UsageError("--train '" + cmd.train +
                     "' has no class subfolders: fit needs each "
                     "training image's class, as DIR/<class>/<image> (ImageFolder) with the "
                     "folders in the model's class order");
  }
  // The features go to a spill file as the images are scored (N x D float32 on disk, not in
  // memory); the fit reads it back in blocks. Its labels stay in memory (4 bytes an image).
  const std::filesystem::path output(cmd.output);
  const std::filesystem::path spill_dir =
      !cmd.spill_dir.empty()         ? std::filesystem::path(cmd.spill_dir)
      : output.parent_path().empty() ? std::filesystem::path(".")
                                     : output.parent_path();
  FeatureSpill(spill_dir, 1);  // a folder it cannot write in is refused before any scoring
  std::unique_ptr<FeatureSpill> features;
  std::vector<int> labels;
  std::size_t agree = 0;  // the model's prediction is the folder's class
  ScoringOutputs outputs;
  outputs.paths.Write("-o", cmd.output);
  outputs.input_flag = "--train";
  ValFeatures val_id, val_ood;
  outputs.on_features = [&](const ScoredSample& s) {
    if (s.set_index > 0) {  // a validation set
      (s.set_index == 1 ? val_id : val_ood).Append(s.features, s.feature_dim);
      return;
    }
    if (!features) {
      features = std::make_unique<FeatureSpill>(spill_dir, s.feature_dim);
      spdlog::debug("spilling the training features to '{}' (unlinked)", features->path().string());
    }
    features->Append(s.features);
    labels.push_back(std::stoi(s.sample->label));
    agree += s.scores.pred == labels.back();
  };
  ScoringResult scored = RunScoring(cmd.scoring, sets, outputs);
  CheckClassOrder(sets[0].classes, scored.head, agree, labels.size());
  const auto start = std::chrono::steady_clock::now();
  const MemoryFeatureRows none(nullptr, 0, scored.head.dim);  // no image scored: refused
  std::optional<FitAlternatives> alternatives;
  if (!cmd.val.empty()) alternatives = SweepAlternatives(scored.head.dim);
  DetectorFit fit =
      FitDetectors(features ? static_cast<const FeatureRows&>(*features) : none, labels.data(),
                   scored.head, cmd.settings, 0, alternatives ? &*alternatives : nullptr);
  features.reset();  // its disk space back before the fit file is written
  if (alternatives) {
    std::string ood_names;
    for (const std::string& v : cmd.val_ood) ood_names += (ood_names.empty() ? "" : ", ") + v;
    fit.tuning =
        TuneDetectors(&fit, *alternatives, val_id.values.data(), val_id.rows, val_ood.values.data(),
                      val_ood.rows, scored.run.value("device", std::string("cpu")));
    fit.tuning->sets = TuningSets(sets, scored.stats);
    spdlog::info(
        "parameter search (OpenOOD's APS): AUROC of {} ({}) against {} ({}), per "
        "combination; each detector keeps its first best:\n{}",
        cmd.val, Counted(val_id.rows, "image"), ood_names, Counted(val_ood.rows, "image"),
        TuningTable(*fit.tuning));
  }
  fit.model_sha256 = scored.model_sha256;
  const nlohmann::json preset = scored.run.value("preset", nlohmann::json(nullptr));
  fit.preset_json = preset.is_null() ? "" : preset.dump();
  fit.train_path = cmd.train;
  WriteFit(cmd.output, fit);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info(
      "fit: head '{}' ({} classes, {}-d features), {} training images, a bank of {}; ReAct "
      "clip {}, ViM subspace {} of {} (alpha {}), VRA clip [{}, {}], tempscale T {} (on {} "
      "images); statistics in {:.2f}s",
      fit.head.name, fit.head.classes, fit.head.dim, fit.train_samples, fit.bank_rows,
      FormatDouble(fit.react_threshold), fit.vim_dim, fit.head.dim, FormatDouble(fit.vim_alpha),
      FormatDouble(fit.vra_low), FormatDouble(fit.vra_high),
      FormatDouble(fit.tempscale_temperature), fit.tempscale_rows, secs);
  for (std::size_t c = 0; c < fit.class_counts.size(); ++c) {
    if (fit.class_counts[c] == 0) {
      spdlog::warn("class {} has no training images: mahalanobis and rmds ignore it", c);
    } else if (fit.she_counts[c] == 0) {
      spdlog::warn(
          "class {} has no training image predicted right: she scores -inf for "
          "images predicted as it",
          c);
    }
  }
  spdlog::info("wrote '{}'", cmd.output);
  return SkippedVerdict(scored.stats, max_skipped);
}

}  // namespace

void SetupFitCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<FitCommand>();
  CLI::App* sub = app->add_subcommand(
      "fit",
      "compute once, from ID training images, what the feature-space detectors need "
      "(class means and precisions, feature banks, ViM subspace, clips, softmax templates, "
      "temperature) and "
      "write a fit file for --fit");
  AddModelOptions(sub, &cmd->scoring);
  sub->add_option("--train", cmd->train,
                  "ID training images in class subfolders (ImageFolder order = the model's "
                  "classes)")
      ->required();
  sub->add_option("--output,-o", cmd->output, "fit file to write")->required();
  sub->add_option("--spill-dir", cmd->spill_dir,
                  "folder for the training features' temporary spill file (N x D x 4 bytes, "
                  "unlinked at once; default: -o's folder)");
  sub->add_option("--val", cmd->val,
                  "ID validation images: with --val-ood, search each tunable detector's "
                  "settings over OpenOOD's sweep lists for the best AUROC against --val-ood "
                  "(OpenOOD's APS) and keep them in the fit, with the search table");
  sub->add_option("--val-ood", cmd->val_ood,
                  "NAME=DIR: OOD validation images for --val's search (repeat to pool sets); "
                  "evaluating on them later is flagged as optimistic");
  sub->add_option("--head", cmd->scoring.spec.head,
                  "the final linear layer's submodule name (default: the last linear layer "
                  "forward() applies)");
  // One flag per detector setting (--knn-k, --scale-percentile, ...), from the settings table.
  for (const DetectorSettingDef& def : DetectorSettingTable()) {
    std::string flag = std::string("--") + def.key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::visit(
        [&](auto m) {
          sub->add_option(flag, cmd->settings.*m, def.help)
              ->check(InRange({def.lo, def.hi, def.lo_open, def.hi_open}))
              ->capture_default_str();
        },
        def.member);
  }
  sub->footer(HelpFooter(
      {"oodscore fit --model m.pt --preset cifar10 --train cifar10/train -o m.fit",
       "oodscore fit --model m.pt --preset cifar10 --train cifar10/train --val cifar10/val "
       "--val-ood tin=tin/val -o m.fit",
       "oodscore eval --model m.pt --preset cifar10 --fit m.fit --id cifar10=val --ood svhn=svhn",
       "oodscore score --model m.pt --preset cifar10 --fit m.fit -i incoming/ -o scores.csv"}));
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunFit(*cmd);
  });
}

}  // namespace oodscore
