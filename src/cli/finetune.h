// oodscore finetune: energy-bounded fine-tuning of the user's TorchScript classifier
// (front-end code; the step itself is oodscore/trainer.h).
//
// As the reference training code does it: each step takes the next 128 ID training images
// (shuffled per epoch; steps per epoch = the ID loader's length, the last batch smaller) and
// the next 256 auxiliary outliers (drawn without replacement, reshuffled whenever they run
// out), one SGD step with Nesterov momentum 0.9 and weight decay 5e-4, the learning rate
// following a cosine from --lr at the first step to 1e-6 after the last. Each epoch ends with
// a checkpoint (module + momentum buffers; the last two are kept) in OUT.ckpt/, where
// state.json says which epoch is done, and, with --val, the ID accuracy and
// the energy score's FPR at 95% TPR (exact convention) on each --val-ood set. The tuned module
// is written in eval mode to OUT, with OUT.json: hyper-parameters, margins and how they were
// chosen, seeds, the base model's SHA-256, per-epoch loss terms and validation.
#ifndef OODSCORE_SRC_CLI_FINETUNE_H_
#define OODSCORE_SRC_CLI_FINETUNE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace oodscore {

struct FinetuneOptions {
  std::string model_path, preset, train_dir, aux_dir, output;
  std::string val_dir;               // class folders; "" = no validation
  std::vector<std::string> val_ood;  // NAME=DIR
  int epochs = 10;
  double lr = 0.001, lr_min = 1e-6;
  int batch_size = 128, aux_batch_size = 256;
  double lambda = 0.1;
  std::optional<double> m_in, m_out;  // unset: --margins auto
  std::string augment = "none";
  std::uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
  bool resume = false;
  bool quiet = false;
};

// Mean and 5/50/95th percentiles of a set of energies.
struct EnergySummary {
  std::size_t n = 0;
  double mean = 0, p5 = 0, p50 = 0, p95 = 0;
};
EnergySummary Summarize(std::vector<double> energies);

// --margins auto: from the pretrained model's energies, m_in = the 5th percentile of the ID
// energies and m_out = the 95th percentile of the auxiliary ones, so that the hinges push
// 95% of each side apart. Throws Error when m_in >= m_out (the model already ranks the
// outliers as more in-distribution than the ID images: give --m-in/--m-out).
struct Margins {
  double m_in = 0, m_out = 0;
  std::string rule;
};
Margins AutoMargins(const EnergySummary& id, const EnergySummary& aux);

// The learning rate at step t of total (t = 0 first): cosine from lr to lr_min.
double CosineLr(std::size_t t, std::size_t total, double lr, double lr_min);

// Runs the whole fine-tuning. Returns the exit code.
int RunFinetune(const FinetuneOptions& options);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_FINETUNE_H_
