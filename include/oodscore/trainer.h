// Energy-bounded fine-tuning of a TorchScript classifier (Liu et al., 2020, section 4), behind
// a LibTorch-free interface. The step loss, as the reference training code computes it:
//
//   E(x)  = -logsumexp f(x)                      (T = 1)
//   loss  = CE(f(x_in), y)                       mean over the ID part of the batch
//         + lambda * ( mean_in  relu(E(x_in)  - m_in)^2
//                    + mean_out relu(m_out - E(x_out))^2 )
//
// with one forward pass over the concatenated batch (ID first, then the auxiliary outliers),
// so BatchNorm statistics are those of the mixed batch, and the module in training mode.
// The optimiser is SGD with momentum, Nesterov and weight decay; the learning rate is set
// before every step (the caller's schedule).
//
//   TrainerOptions opt;  opt.momentum = 0.9; ...
//   auto t = Trainer::Load("base.pt", opt);        // throws oodscore::Error
//   float* in = t->InputBuffer(n * c * h * w);      // fill: n_in ID images, then n_out outliers
//   StepLosses l = t->Step(n_in, n_out, c, h, w, labels, lr, margins, lambda);
//   t->Save("tuned.pt");                            // TorchScript, eval mode
//
// Implemented in src/torch/trainer.cc, in liboodscore_torch.so: only src/torch/ includes
// LibTorch headers.
#ifndef OODSCORE_TRAINER_H_
#define OODSCORE_TRAINER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace oodscore {

struct TrainerOptions {
  std::string device = "cpu";  // cpu | cuda | cuda:N
  int threads = 0;             // intra-op threads; 0 = the number of cores
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = true;
  std::uint64_t seed = 0;  // LibTorch's generator (dropout)
};

struct StepLosses {
  double total = 0, ce = 0, hinge_in = 0, hinge_out = 0;  // before the update
  int correct = 0;                                        // ID samples whose argmax is their label
  bool parameters_finite = true;  // after the update: no parameter is NaN or Inf
};

class Trainer {
 public:
  virtual ~Trainer() = default;

  // Loads a TorchScript module for training (training mode, every parameter trainable).
  // Throws oodscore::Error naming the file when it cannot load, has no trainable parameters
  // (a frozen or optimised module: export it with torch.jit.script or trace, unfrozen), or
  // is not a classifier on [N, C, H, W] (checked on the first step).
  static std::unique_ptr<Trainer> Load(const std::filesystem::path& path,
                                       const TrainerOptions& options);

  // A host buffer of at least `floats` floats, reused across calls; invalidated by a call
  // with a larger size.
  virtual float* InputBuffer(std::size_t floats) = 0;

  // One optimiser step on the first (n_in + n_out) images of InputBuffer(): ID images first
  // (labels: n_in class indices), then outliers. lr is this step's learning rate.
  virtual StepLosses Step(int n_in, int n_out, int c, int h, int w,
                          const std::vector<std::int64_t>& labels, double lr, double m_in,
                          double m_out, double lambda) = 0;

  // Logits [n, K] of the first n images of InputBuffer(), in eval mode, without gradients
  // (for the margins and for validation). The module goes back to training mode after.
  virtual void Evaluate(int n, int c, int h, int w, std::vector<float>* logits, int* k) = 0;

  // The module, in eval mode, as a TorchScript file that `oodscore score` loads.
  virtual void Save(const std::filesystem::path& path) = 0;
  // Module and optimiser state (momentum buffers), to continue a stopped run.
  virtual void SaveCheckpoint(const std::filesystem::path& module_path,
                              const std::filesystem::path& optimizer_path) = 0;
  virtual void LoadCheckpoint(const std::filesystem::path& module_path,
                              const std::filesystem::path& optimizer_path) = 0;

  virtual std::size_t parameter_count() const = 0;
  virtual std::string device() const = 0;
};

}  // namespace oodscore

#endif  // OODSCORE_TRAINER_H_
