#include "cli/finetune.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/parallel.h"
#include "base/sha256.h"
#include "base/version.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "oodscore/augment.h"
#include "oodscore/dataset.h"
#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/metrics.h"
#include "oodscore/model.h"
#include "oodscore/pipeline.h"
#include "oodscore/preset.h"
#include "oodscore/scores.h"
#include "oodscore/trainer.h"

namespace oodscore {

EnergySummary Summarize(std::vector<double> e) {
  EnergySummary s;
  s.n = e.size();
  if (e.empty()) return s;
  std::sort(e.begin(), e.end());
  s.mean = std::accumulate(e.begin(), e.end(), 0.0) / static_cast<double>(e.size());
  // numpy's default (linear) percentile.
  auto pct = [&](double q) {
    const double pos = q * static_cast<double>(e.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, e.size() - 1);
    return e[lo] + (e[hi] - e[lo]) * (pos - static_cast<double>(lo));
  };
  s.p5 = pct(0.05);
  s.p50 = pct(0.50);
  s.p95 = pct(0.95);
  return s;
}

Margins AutoMargins(const EnergySummary& id, const EnergySummary& aux) {
  Margins m{id.p5, aux.p95,
            "m_in = 5th percentile of the ID training energies, m_out = 95th percentile of the "
            "auxiliary energies, both from the pretrained model: the hinges push 95% of each "
            "side apart"};
  if (!(m.m_in < m.m_out)) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "m_in %.4g >= m_out %.4g", m.m_in, m.m_out);
    throw Error(std::string("--margins auto: ") + buf +
                ": the pretrained model already gives the auxiliary outliers lower energies "
                "(more in-distribution) than the ID images; check --train and --aux, or give "
                "--m-in and --m-out");
  }
  return m;
}

double CosineLr(std::size_t t, std::size_t total, double lr, double lr_min) {
  const double pi = std::acos(-1.0);
  return lr_min + (lr - lr_min) * 0.5 *
                      (1 + std::cos(pi * static_cast<double>(t) / static_cast<double>(total)));
}

namespace {

nlohmann::json SummaryJson(const EnergySummary& s) {
  return {{"n", s.n}, {"mean", s.mean}, {"p5", s.p5}, {"p50", s.p50}, {"p95", s.p95}};
}

// The images of one step, preprocessed (and augmented) into one [n, c, h, w] block.
struct Batch {
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;
  int n_in = 0, n_out = 0;
};

class Loader {
 public:
  // The batches' size: the preset's fixed output size (a resize to [h, w], or a crop), or,
  // for a preset without one (ToTensor + Normalize, as usual for MNIST), the size `first`
  // comes out at, which every other image must then have too.
  Loader(const PreprocessSpec& spec, const Augment& augment, const Sample& first)
      : spec_(spec), augment_(augment) {
    if (FixedOutputShape(spec, &c_, &h_, &w_)) return;
    const Image img = Transformed(first);
    c_ = img.channels;
    h_ = img.height;
    w_ = img.width;
    size_from_ = first.path;
    spdlog::info(
        "preset '{}' has no fixed output size (no resize to [h, w], no crop): finetune trains "
        "at {}x{}x{}, the size of the first training image '{}'",
        spec.name, c_, h_, w_, first.path);
  }
  int c() const { return c_; }
  int h() const { return h_; }
  int w() const { return w_; }
  std::size_t floats() const { return static_cast<std::size_t>(c_) * h_ * w_; }

  // Decodes the samples into out (one image after another); seeds: one per sample, for the
  // augmentation's draws, or empty for none.
  void Load(const std::vector<const Sample*>& samples, const std::vector<std::uint64_t>& seeds,
            float* out) const {
    ParallelFor(samples.size(), [&](std::size_t i) {
      const Sample& s = *samples[i];
      Image img = Transformed(s);
      if (img.channels != c_ || img.height != h_ || img.width != w_) {
        throw Error("image '" + s.path + "' comes out of the preset at " +
                    std::to_string(img.channels) + "x" + std::to_string(img.height) + "x" +
                    std::to_string(img.width) + ", not at " + std::to_string(c_) + "x" +
                    std::to_string(h_) + "x" + std::to_string(w_) +
                    (size_from_.empty() ? " (the preset's fixed size)"
                                        : " (the size of the first training image '" + size_from_ +
                                              "', since the preset has no fixed size: give "
                                              "a preset with a resize or crop)") +
                    ": a batch needs one size");
      }
      if (!seeds.empty() && augment_.any()) img = ApplyAugment(img, augment_, seeds[i]);
      ToTensorNormalize(img, spec_, out + i * floats());
    });
  }

 private:
  Image Transformed(const Sample& s) const {
    if (s.npy != nullptr) throw UsageError("finetune reads image folders, not .npy files");
    DecodeResult d = DecodeFile(s.path, spec_.mode);
    if (!d.ok()) throw Error("training image '" + s.path + "': " + d.error);
    return TransformUint8(d.image, spec_);
  }

  PreprocessSpec spec_;
  Augment augment_;
  int c_ = 0, h_ = 0, w_ = 0;
  std::string size_from_;  // the image whose size the batches take ("" = the preset's)
};

// Energies (T = 1) of samples in eval mode; labels' accuracy when `correct` is given.
std::vector<double> Energies(Trainer& trainer, const Loader& loader,
                             const std::vector<const Sample*>& samples, std::size_t* correct) {
  std::vector<double> energies;
  std::vector<float> logits;
  LogitScores scores;
  constexpr std::size_t kChunk = 256;
  for (std::size_t b = 0; b < samples.size(); b += kChunk) {
    const std::vector<const Sample*> chunk(
        samples.begin() + static_cast<std::ptrdiff_t>(b),
        samples.begin() + static_cast<std::ptrdiff_t>(std::min(samples.size(), b + kChunk)));
    loader.Load(chunk, {}, trainer.InputBuffer(chunk.size() * loader.floats()));
    int k = 0;
    trainer.Evaluate(static_cast<int>(chunk.size()), loader.c(), loader.h(), loader.w(), &logits,
                     &k);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      ComputeLogitScores(logits.data() + i * k, k, {1.0}, &scores);
      if (!scores.finite) throw Error("NaN or infinite logits for '" + chunk[i]->path + "'");
      energies.push_back(scores.energy[0]);
      if (correct && std::to_string(scores.pred) == chunk[i]->label) ++*correct;
    }
  }
  return energies;
}

std::vector<const Sample*> Pointers(const SampleSet& set) {
  std::vector<const Sample*> out;
  for (const auto& s : set.samples) out.push_back(&s);
  return out;
}

// Up to n samples, the same ones every run: the first n of a seeded shuffle.
std::vector<const Sample*> Subset(const SampleSet& set, std::size_t n, std::uint64_t seed) {
  std::vector<const Sample*> all = Pointers(set);
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > n) all.resize(n);
  return all;
}

// Auxiliary draws without replacement: draw d is in pass d / n of a permutation reshuffled
// per pass, so the stream is a function of the seed alone (a resumed run continues it).
class AuxStream {
 public:
  AuxStream(std::size_t n, std::uint64_t seed) : n_(n), seed_(seed) {}
  std::size_t At(std::size_t draw) {
    const std::size_t pass = draw / n_;
    if (pass != pass_ || perm_.empty()) {
      perm_.resize(n_);
      std::iota(perm_.begin(), perm_.end(), std::size_t{0});
      std::mt19937_64 rng(MixSeed(seed_, 2, pass));
      std::shuffle(perm_.begin(), perm_.end(), rng);
      pass_ = pass;
    }
    return perm_[draw % n_];
  }

 private:
  std::size_t n_;
  std::uint64_t seed_;
  std::size_t pass_ = 0;
  std::vector<std::size_t> perm_;
};

struct ValSet {
  std::string name;
  SampleSet set;
};

struct EpochRecord {
  double loss = 0, ce = 0, hinge_in = 0, hinge_out = 0, train_accuracy = 0;
  double images_per_second = 0;
  nlohmann::json val = nlohmann::json::object();
};

nlohmann::json EpochJson(int epoch, const EpochRecord& r) {
  return {{"epoch", epoch},
          {"loss", r.loss},
          {"ce", r.ce},
          {"hinge_in", r.hinge_in},
          {"hinge_out", r.hinge_out},
          {"train_accuracy", r.train_accuracy},
          {"images_per_second", r.images_per_second},
          {"val", r.val}};
}

// Validation after an epoch: ID accuracy and, per OOD set, the energy score's FPR at 95% TPR
// (exact convention) and AUROC.
nlohmann::json Validate(Trainer& trainer, const Loader& loader, const SampleSet& val,
                        const std::vector<ValSet>& val_ood) {
  nlohmann::json out = nlohmann::json::object();
  if (val.samples.empty()) return out;
  std::size_t correct = 0;
  std::vector<double> id = Energies(trainer, loader, Pointers(val), &correct);
  out["id_accuracy"] = static_cast<double>(correct) / static_cast<double>(id.size());
  for (double& e : id) e = -e;  // oriented: higher = ID
  for (const auto& o : val_ood) {
    std::vector<double> ood = Energies(trainer, loader, Pointers(o.set), nullptr);
    for (double& e : ood) e = -e;
    const Metrics m = ComputeMetrics(id, ood, MetricOptions{});
    out["ood"][o.name] = {{"fpr_at_95_tpr", m.fpr_at_tpr}, {"auroc", m.auroc}};
  }
  return out;
}

std::string CheckpointName(const std::string& output, int epoch, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/epoch-%03d.%s", epoch, ext);
  return output + ".ckpt" + buf;
}

// The run's inputs, checked and listed (step 1).
struct FinetuneData {
  Augment augment;
  Preset preset;
  SampleSet train, aux, val;
  std::vector<ValSet> val_ood;
  std::size_t steps = 0;  // per epoch: the ID loader's length
};

FinetuneData LoadData(const FinetuneOptions& opt) {
  if (opt.epochs < 1) throw UsageError("--epochs must be at least 1");
  if (!(opt.lr > 0) || !(opt.lambda >= 0)) throw UsageError("--lr must be > 0 and --lambda >= 0");
  if (opt.batch_size < 1 || opt.aux_batch_size < 1) {
    throw UsageError("--batch-size and --aux-batch-size must be at least 1");
  }
  if (opt.m_in.has_value() != opt.m_out.has_value()) {
    throw UsageError("give both --m-in and --m-out, or neither (--margins auto)");
  }
  if (opt.m_in && !(*opt.m_in < *opt.m_out)) throw UsageError("--m-in must be below --m-out");
  FinetuneData d;
  d.augment = ParseAugment(opt.augment);
  d.preset = LoadPreset(opt.preset);
  d.train = ListInput(opt.train_dir, "train", Layout::kClasses);
  d.aux = ListInput(opt.aux_dir, "aux", Layout::kFlat);
  if (d.train.samples.empty()) throw UsageError("--train '" + opt.train_dir + "' holds no image");
  if (d.aux.samples.empty()) throw UsageError("--aux '" + opt.aux_dir + "' holds no image");
  if (!opt.val_dir.empty()) d.val = ListInput(opt.val_dir, "val", Layout::kClasses);
  for (const auto& arg : opt.val_ood) {
    if (opt.val_dir.empty()) throw UsageError("--val-ood needs --val (the ID validation set)");
    auto [name, path] = SplitNamed(arg);
    d.val_ood.push_back({name, ListInput(path, name, Layout::kAuto)});
  }
  RunPaths paths;
  paths.Read("--model", opt.model_path);
  paths.Read("--preset", opt.preset);
  paths.ReadSets("--train", {d.train});
  paths.ReadSets("--aux", {d.aux});
  paths.ReadSets("--val", {d.val});
  for (const auto& v : d.val_ood) paths.ReadSets("--val-ood", {v.set});
  paths.Write("-o", opt.output);
  paths.Write("-o's record", opt.output + ".json");
  paths.WriteTree("-o's checkpoints", opt.output + ".ckpt");
  paths.Check();
  d.steps = (d.train.samples.size() + opt.batch_size - 1) / opt.batch_size;
  spdlog::info("train: {} in {}; aux: {}; val: {}, {}", Counted(d.train.samples.size(), "image"),
               Counted(d.train.classes.size(), "class", "classes"),
               Counted(d.aux.samples.size(), "image"), Counted(d.val.samples.size(), "image"),
               Counted(d.val_ood.size(), "OOD set"));
  return d;
}

// Everything that decides the tuned model: a resumed run must match it.
nlohmann::json RunConfig(const FinetuneOptions& opt, const FinetuneData& d) {
  return {
      {"base_model", {{"path", opt.model_path}, {"sha256", Sha256File(opt.model_path)}}},
      {"preset", nlohmann::json::parse(d.preset.json)},
      {"train",
       {{"path", opt.train_dir}, {"images", d.train.samples.size()}, {"classes", d.train.classes}}},
      {"aux", {{"path", opt.aux_dir}, {"images", d.aux.samples.size()}}},
      {"epochs", opt.epochs},
      {"steps_per_epoch", d.steps},
      {"batch_size", opt.batch_size},
      {"aux_batch_size", opt.aux_batch_size},
      {"optimizer",
       {{"name", "SGD"}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 5e-4}}},
      {"lr", {{"max", opt.lr}, {"min", opt.lr_min}, {"schedule", "cosine per step"}}},
      {"lambda", opt.lambda},
      {"augment", opt.augment},
      {"seed", opt.seed},
      {"threads", opt.threads},
      {"device", opt.device}};
}

// The margins: given, or from the pretrained model's energies (--margins auto).
nlohmann::json ChooseMargins(const FinetuneOptions& opt, const FinetuneData& d, Trainer& trainer,
                             const Loader& loader) {
  if (opt.m_in) {
    return {{"m_in", *opt.m_in}, {"m_out", *opt.m_out}, {"rule", "given (--m-in, --m-out)"}};
  }
  constexpr std::size_t kMarginSamples = 2000;
  const EnergySummary id = Summarize(
      Energies(trainer, loader, Subset(d.train, kMarginSamples, MixSeed(opt.seed, 3)), nullptr));
  const EnergySummary out = Summarize(
      Energies(trainer, loader, Subset(d.aux, kMarginSamples, MixSeed(opt.seed, 4)), nullptr));
  const Margins m = AutoMargins(id, out);
  spdlog::info(
      "pretrained energies, ID train ({} images): mean {:.3f}, 5/50/95% {:.3f} / "
      "{:.3f} / {:.3f}",
      id.n, id.mean, id.p5, id.p50, id.p95);
  spdlog::info(
      "pretrained energies, auxiliary ({} images): mean {:.3f}, 5/50/95% {:.3f} / "
      "{:.3f} / {:.3f}",
      out.n, out.mean, out.p5, out.p50, out.p95);
  spdlog::info("margins: m_in = {:.4f}, m_out = {:.4f} ({})", m.m_in, m.m_out, m.rule);
  return {{"m_in", m.m_in},
          {"m_out", m.m_out},
          {"rule", m.rule},
          {"pretrained_energy", {{"id", SummaryJson(id)}, {"aux", SummaryJson(out)}}}};
}

// Step 2: the state of a stopped run that --resume continues (its checkpoint loaded into
// the trainer), or a new one with its margins.
nlohmann::json StartState(const FinetuneOptions& opt, const FinetuneData& d,
                          const nlohmann::json& config, Trainer& trainer, const Loader& loader) {
  const std::string ckpt_dir = opt.output + ".ckpt";
  const std::string state_path = ckpt_dir + "/state.json";
  std::error_code ec;
  if (opt.resume && std::filesystem::is_regular_file(state_path, ec)) {
    nlohmann::json state = ParseJsonText(ReadFile(state_path), state_path);
    if (state.value("config", nlohmann::json()) != config) {
      throw Error("--resume: '" + state_path +
                  "' is from another run (other data, model or "
                  "hyper-parameters); remove '" +
                  ckpt_dir + "' to start over");
    }
    const int done = state.value("epochs_done", 0);
    trainer.LoadCheckpoint(CheckpointName(opt.output, done, "pt"),
                           CheckpointName(opt.output, done, "optim"));
    spdlog::info("--resume: continuing after epoch {} of {}", done, opt.epochs);
    return state;
  }
  nlohmann::json state = {{"config", config},
                          {"epochs_done", 0},
                          {"history", nlohmann::json::array()},
                          {"margins", ChooseMargins(opt, d, trainer, loader)}};
  std::filesystem::create_directories(ckpt_dir, ec);
  if (ec) throw Error("cannot create '" + ckpt_dir + "': " + ec.message());
  return state;
}

// Step 3, one epoch: shuffled ID batches with the next outliers, decoded while the previous
// step trains.
struct EpochContext {
  const FinetuneOptions& opt;
  const FinetuneData& data;
  const Loader& loader;
  Trainer& trainer;
  AuxStream& aux;
  Progress& progress;
  double m_in, m_out;
  std::size_t total_steps, images_total;
  std::size_t images_done = 0;
};

// A step that left the model unusable: the run stops (exit 3) before anything of it is saved.
Error Diverged(const std::string& what, int epoch, std::size_t step, double lr,
               const FinetuneOptions& opt) {
  return Error(what + " at epoch " + std::to_string(epoch) + " step " + std::to_string(step + 1) +
               " (learning rate " + FormatDouble(lr) +
               "): nothing of this epoch was saved (the last epoch's checkpoint in '" + opt.output +
               ".ckpt/', if any, stays); lower --lr or --lambda");
}

EpochRecord TrainEpoch(EpochContext& ctx, int epoch) {
  const FinetuneOptions& opt = ctx.opt;
  const SampleSet& train = ctx.data.train;
  const std::size_t steps = ctx.data.steps;
  const std::size_t per_epoch = train.samples.size() + steps * opt.aux_batch_size;
  const auto epoch_start = std::chrono::steady_clock::now();
  std::vector<std::size_t> order(train.samples.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(MixSeed(opt.seed, 1, static_cast<std::uint64_t>(epoch)));
  std::shuffle(order.begin(), order.end(), rng);
  auto prepare = [&](std::size_t step) {
    Batch b;
    std::vector<const Sample*> samples;
    std::vector<std::uint64_t> seeds;
    const std::size_t begin = step * opt.batch_size;
    const std::size_t end = std::min(order.size(), begin + opt.batch_size);
    for (std::size_t i = begin; i < end; ++i) {
      const Sample& s = train.samples[order[i]];
      samples.push_back(&s);
      seeds.push_back(MixSeed(opt.seed, static_cast<std::uint64_t>(epoch) << 32 | 1, order[i]));
      b.labels.push_back(std::stoll(s.label));
    }
    b.n_in = static_cast<int>(samples.size());
    const std::size_t first_draw =
        ((static_cast<std::size_t>(epoch) - 1) * steps + step) * opt.aux_batch_size;
    for (int j = 0; j < opt.aux_batch_size; ++j) {
      const std::size_t a = ctx.aux.At(first_draw + j);
      samples.push_back(&ctx.data.aux.samples[a]);
      seeds.push_back(MixSeed(opt.seed, first_draw + j, a) ^ 0xA5A5A5A5A5A5A5A5ull);
    }
    b.n_out = opt.aux_batch_size;
    b.pixels.resize(samples.size() * ctx.loader.floats());
    ctx.loader.Load(samples, seeds, b.pixels.data());
    return b;
  };
  EpochRecord record;
  std::size_t seen_in = 0, correct = 0;
  std::future<Batch> next = std::async(std::launch::async, prepare, 0);
  for (std::size_t step = 0; step < steps; ++step) {
    Batch batch = next.get();
    if (step + 1 < steps) next = std::async(std::launch::async, prepare, step + 1);
    std::copy(batch.pixels.begin(), batch.pixels.end(),
              ctx.trainer.InputBuffer(batch.pixels.size()));
    const std::size_t t = (static_cast<std::size_t>(epoch) - 1) * steps + step;
    const StepLosses l = ctx.trainer.Step(
        batch.n_in, batch.n_out, ctx.loader.c(), ctx.loader.h(), ctx.loader.w(), batch.labels,
        CosineLr(t, ctx.total_steps, opt.lr, opt.lr_min), ctx.m_in, ctx.m_out, opt.lambda);
    const double lr = CosineLr(t, ctx.total_steps, opt.lr, opt.lr_min);
    if (!std::isfinite(l.total)) {
      throw Diverged("the loss became " + FormatDouble(l.total), epoch, step, lr, opt);
    }
    if (!l.parameters_finite) {
      throw Diverged("the model's parameters became NaN or Inf", epoch, step, lr, opt);
    }
    if (step + 1 == steps) {
      // The last step's update is seen by no later loss: check its logits on this batch.
      std::vector<float> logits;
      int k = 0;
      ctx.trainer.Evaluate(batch.n_in + batch.n_out, ctx.loader.c(), ctx.loader.h(), ctx.loader.w(),
                           &logits, &k);
      if (!std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); })) {
        throw Diverged("the model's logits became NaN or Inf", epoch, step, lr, opt);
      }
    }
    record.loss += l.total / steps;
    record.ce += l.ce / steps;
    record.hinge_in += l.hinge_in / steps;
    record.hinge_out += l.hinge_out / steps;
    seen_in += batch.n_in;
    correct += l.correct;
    ctx.images_done += batch.n_in + batch.n_out;
    char note[96];
    std::snprintf(note, sizeof(note), "loss %.4f (ce %.4f, in %.3f, out %.3f)", l.total, l.ce,
                  l.hinge_in, l.hinge_out);
    ctx.progress.Update(ctx.images_done, ctx.images_total, note);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen_in);
  record.images_per_second = secs > 0 ? per_epoch / secs : 0;
  return record;
}

// Step 4: the tuned module (eval mode), then its record beside it.
void WriteTuned(const FinetuneOptions& opt, Trainer& trainer, const nlohmann::json& state,
                std::chrono::steady_clock::time_point start) {
  const std::string tmp = opt.output + ".partial";
  trainer.Save(tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, opt.output, ec);
  if (ec) throw Error("cannot write '" + opt.output + "': " + ec.message());
  nlohmann::json record = state;
  record["kind"] = "oodscore-finetune";
  record["tool"] = ToolJson();
  record["argv"] = CommandLine();
  record["libtorch"] = TorchVersion();
  record["loss"] =
      "CE(f(x_in), y) + lambda * (mean relu(E(x_in) - m_in)^2 + mean relu(m_out - E(x_out))^2), "
      "E(x) = -logsumexp f(x)";
  record["model_sha256"] = Sha256File(opt.output);
  record["wall_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WriteFileAtomic(opt.output + ".json", DumpJson(record) + "\n");
  spdlog::info("wrote '{}' and '{}.json'", opt.output, opt.output);
}

}  // namespace

// The model's class count, from one training image, against the class folders: folder i (in
// sorted order) is taken as class i, which only holds when they are the model's classes.
void WarnOnClassCount(Trainer& trainer, const Loader& loader, const SampleSet& train) {
  std::vector<float> logits;
  int k = 0;
  loader.Load({&train.samples[0]}, {}, trainer.InputBuffer(loader.floats()));
  trainer.Evaluate(1, loader.c(), loader.h(), loader.w(), &logits, &k);
  if (train.classes.size() == static_cast<std::size_t>(k)) return;
  spdlog::warn(
      "--train has {} class folder(s), the model {} classes: folder i (in sorted order) is taken "
      "as class i{}",
      train.classes.size(), k,
      train.classes.size() == 1
          ? "; with one class, cross-entropy teaches the model to predict only that class"
          : "");
}

int RunFinetune(const FinetuneOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  const FinetuneData data = LoadData(opt);
  const Loader loader(data.preset.spec, data.augment, data.train.samples.front());
  const nlohmann::json config = RunConfig(opt, data);
  TrainerOptions topt;
  topt.device = opt.device;
  topt.threads = opt.threads;
  topt.seed = opt.seed;
  // A step holds its images three times on the host: the batch being trained, the next one
  // being decoded, and the trainer's input buffer. Blame the larger of the two flags.
  const std::size_t in = std::min<std::size_t>(opt.batch_size, data.train.samples.size());
  const std::size_t out = static_cast<std::size_t>(opt.aux_batch_size);
  CheckBatchMemory(out > in ? "--aux-batch-size" : "--batch-size", std::max(in, out),
                   std::min(in, out), 3, loader.c(), loader.h(), loader.w());
  auto trainer = Trainer::Load(opt.model_path, topt);
  spdlog::info("model '{}': {} trainable parameters on {}", opt.model_path,
               trainer->parameter_count(), trainer->device());
  WarnOnClassCount(*trainer, loader, data.train);
  nlohmann::json state = StartState(opt, data, config, *trainer, loader);
  const int first_epoch = state.value("epochs_done", 0) + 1;

  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
  const std::size_t per_epoch =
      data.train.samples.size() + data.steps * static_cast<std::size_t>(opt.aux_batch_size);
  for (int e = first_epoch; e <= opt.epochs; ++e) {
    names.push_back("epoch " + std::to_string(e) + "/" + std::to_string(opt.epochs));
    sizes.push_back(per_epoch);
  }
  Progress progress(opt.quiet, names, sizes, "images trained");
  AuxStream aux(data.aux.samples.size(), MixSeed(opt.seed, 5));
  EpochContext ctx{opt,
                   data,
                   loader,
                   *trainer,
                   aux,
                   progress,
                   state["margins"]["m_in"].get<double>(),
                   state["margins"]["m_out"].get<double>(),
                   data.steps * static_cast<std::size_t>(opt.epochs),
                   per_epoch * names.size()};
  const std::string state_path = opt.output + ".ckpt/state.json";
  std::error_code ec;
  for (int epoch = first_epoch; epoch <= opt.epochs; ++epoch) {
    EpochRecord record = TrainEpoch(ctx, epoch);
    record.val = Validate(*trainer, loader, data.val, data.val_ood);
    spdlog::info(
        "epoch {}/{}: loss {:.4f} (ce {:.4f}, hinge in {:.4f}, out {:.4f}), train "
        "accuracy {:.2f}%, {:.0f} img/s{}",
        epoch, opt.epochs, record.loss, record.ce, record.hinge_in, record.hinge_out,
        100 * record.train_accuracy, record.images_per_second,
        record.val.empty() ? "" : ", val " + DumpJson(record.val, -1));
    // The checkpoint, then the state that points at it; the last two checkpoints stay.
    trainer->SaveCheckpoint(CheckpointName(opt.output, epoch, "pt"),
                            CheckpointName(opt.output, epoch, "optim"));
    state["history"].push_back(EpochJson(epoch, record));
    state["epochs_done"] = epoch;
    WriteFileAtomic(state_path, DumpJson(state) + "\n");
    if (epoch > 2) {
      std::filesystem::remove(CheckpointName(opt.output, epoch - 2, "pt"), ec);
      std::filesystem::remove(CheckpointName(opt.output, epoch - 2, "optim"), ec);
    }
  }
  WriteTuned(opt, *trainer, state, start);
  return kExitOk;
}

}  // namespace oodscore
