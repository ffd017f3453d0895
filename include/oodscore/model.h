// A TorchScript classifier behind a LibTorch-free interface.
//
//   ModelOptions opt;  opt.device = "auto";
//   auto model = Model::Load("resnet18.pt", opt);     // throws oodscore::Error
//   float* in = model->InputBuffer(n * c * h * w);     // pinned host memory on CUDA
//   ... fill in ...
//   std::vector<float> logits; int k;
//   model->Forward(n, c, h, w, &logits, &k);           // logits: [n, k] row-major float32
//
// Only src/torch/ includes LibTorch headers (here: src/torch/model.cc); it is built into
// liboodscore_torch.so, which Load() opens on first use (src/model/torch_api.h), so a program
// that loads no model never loads LibTorch.
#ifndef OODSCORE_MODEL_H_
#define OODSCORE_MODEL_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "oodscore/detectors.h"
#include "oodscore/error.h"

namespace oodscore {

// What the model's first weight says about its input, read before freezing: a 4-D weight
// [out, in, kh, kw] (a convolution) wants `channels` input channels; a 2-D weight
// [out, in] first (a linear layer on flattened input) wants `features` = c * h * w.
struct InputHint {
  std::string layer;       // the parameter's name, "" when none was found
  std::string shape;       // "[16, 3, 3, 3]"
  int channels = 0;        // 0 = unknown
  long long features = 0;  // 0 = unknown
};

// The model failed on a batch whose per-sample shape disagrees with its first layer.
class ModelInputError : public Error {
 public:
  ModelInputError(const std::string& message, InputHint hint)
      : Error(message), hint_(std::move(hint)) {}
  const InputHint& hint() const { return hint_; }

 private:
  InputHint hint_;
};

struct ModelOptions {
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto (CUDA when available)
  bool half = false;           // CUDA only: run the model in float16 (scores still in double)
  bool freeze = true;          // torch::jit::freeze: folds parameters into the graph (outputs
                               // agree to ~1e-6 relative); off with --no-freeze
  bool optimize = true;        // CPU, with freeze: torch::jit::optimize_for_inference (oneDNN
                               // kernels, fused ops). Self-checked on the first batch against
                               // the frozen model: if any logit moves by more than
                               // kOptimizeTolerance * max|logit|, the frozen model is used.
  bool channels_last = false;  // CPU: feed NHWC-strided batches (faster for some CNNs)
  int threads = 0;             // intra-op threads; 0 = the number of cores
  bool odin = false;           // keep an unfrozen copy of the module for ForwardOdin (memory)
  // Also return the penultimate features (the final linear layer's input) from Forward, found
  // without changing the model file (src/torch/head.cc): the last linear layer forward() applies,
  // or the one named `head`; or timm's forward_features / forward_head(x, pre_logits).
  bool features = false;
  std::string head;  // "" = found automatically
};

// ODIN (Liang et al., ICLR 2018) input perturbation, as its reference code and OpenOOD v1.5
// do it: x' = x - epsilon * g / std, g = +1 where d CE(f(x)/T, argmax f(x)) / dx >= 0 and
// -1 elsewhere, divided per channel by the preset's std (the gradient is taken in the
// normalised space); the score is then the max softmax of f(x')/T.
struct OdinOptions {
  double temperature = 1000;
  double epsilon = 0.0014;
  std::vector<float> std;  // per channel; empty = 1
};

// Largest change of a logit, relative to the batch's largest |logit|, that the default
// optimisations may cause (measured on the demo CNN: about 2e-7).
constexpr double kOptimizeTolerance = 1e-5;

class Model {
 public:
  virtual ~Model() = default;

  // Loads, moves to the device, sets eval mode and, when asked, freezes. Runs one probe
  // forward only when Probe() is called. Throws oodscore::Error naming the file on failure,
  // and for a CUDA device on a build or machine without CUDA.
  static std::unique_ptr<Model> Load(const std::filesystem::path& path,
                                     const ModelOptions& options);

  // A host buffer of at least `floats` floats, reused across calls (pinned on CUDA).
  // Invalidated by the next call with a larger size.
  virtual float* InputBuffer(std::size_t floats) = 0;

  // Runs the model on the first n*c*h*w floats of InputBuffer(), a [n, c, h, w] float32 batch.
  // Output must be a 2-D float tensor [n, K] with K >= 2, or a tuple/list whose first element is;
  // otherwise throws oodscore::Error saying what was got and what was expected. A failure on
  // an input that the first layer does not take throws ModelInputError.
  virtual void Forward(int n, int c, int h, int w, std::vector<float>* logits, int* k) = 0;

  // With ModelOptions::features: the last Forward's features [n, D] row-major float32, and the
  // final linear layer they go through (logits = W f + b, checked on the first batch: a model
  // whose output is not its head's throws Error). Empty otherwise.
  virtual const std::vector<float>& features() const = 0;
  virtual const HeadWeights& head() const = 0;

  // ODIN's perturbed logits f(x') [n, K] for the first n*c*h*w floats of InputBuffer(). Runs
  // a forward and a backward pass through the module as loaded (autograd cannot go through
  // the frozen inference graph), then a forward pass on x'. Throws like Forward.
  virtual void ForwardOdin(int n, int c, int h, int w, const OdinOptions& odin,
                           std::vector<float>* logits) = 0;

  virtual std::string device() const = 0;  // "cpu", "cuda:0"
  virtual std::string dtype() const = 0;   // "float32" or "float16"
  // What was done to the graph: "frozen", "frozen+optimize_for_inference", "none", with the
  // self-check's result once the first batch has run (e.g. "...; max rel change 1.8e-07").
  virtual std::string optimization() const = 0;
  virtual InputHint input_hint() const = 0;
};

// Build and runtime facts for the reproducibility stamp.
std::string TorchVersion();
bool CudaAvailable();
int IntraOpThreads();
// Where the model library (LibTorch and this build's model code) is looked for, in order:
// $OODSCORE_TORCH_LIBRARY, else liboodscore_torch.so beside the executable or in
// ../lib/oodscore/.
std::vector<std::string> ModelLibraryCandidates();
// True when loading LibTorch set OMP_WAIT_POLICY=PASSIVE (the user had set no policy).
bool SetOmpWaitPolicy();

}  // namespace oodscore

#endif  // OODSCORE_MODEL_H_
