#include "oodscore/model.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cstdio>
#include <optional>
#include <thread>

#include "model/torch_api.h"
#include "oodscore/error.h"
#include "torch/torch_common.h"

namespace oodscore {

namespace {

std::string Describe(const c10::IValue& v) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    return std::string("a ") + std::string(c10::toString(t.scalar_type())) + " tensor of shape " +
           TensorShape(t);
  }
  return "a value of type " + v.tagKind();
}

// Reads the first weight of the module (parameters in registration order).
InputHint ReadInputHint(const torch::jit::Module& module) {
  InputHint hint;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    const at::Tensor& w = p.value;
    if (w.dim() != 4 && w.dim() != 2) continue;
    hint.layer = p.name;
    hint.shape = TensorShape(w);
    if (w.dim() == 4) hint.channels = static_cast<int>(w.size(1));
    if (w.dim() == 2) hint.features = w.size(1);
    break;
  }
  return hint;
}

class TorchModel : public Model {
 public:
  TorchModel(torch::jit::Module module, std::optional<torch::jit::Module> reference,
             torch::jit::Module grad_module, bool odin, torch::Device device, bool half,
             bool channels_last, std::string path, std::string optimization, InputHint hint,
             std::optional<HeadWeights> head)
      : hint_(std::move(hint)),
        method_(head ? kFeaturesMethod : "forward"),
        head_(head ? std::move(*head) : HeadWeights()),
        check_head_(head.has_value()),
        module_(std::move(module)),
        grad_module_(std::move(grad_module)),
        odin_(odin),
        reference_(std::move(reference)),
        device_(device),
        half_(half),
        channels_last_(channels_last),
        path_(std::move(path)),
        optimization_(std::move(optimization)) {}

  float* InputBuffer(std::size_t floats) override {
    if (static_cast<std::size_t>(buffer_.numel()) < floats) {
      auto opts = torch::TensorOptions().dtype(torch::kFloat32);
      if (device_.is_cuda()) opts = opts.pinned_memory(true);
      buffer_ = torch::empty({static_cast<int64_t>(floats)}, opts);
    }
    return buffer_.data_ptr<float>();
  }

  void Forward(int n, int c, int h, int w, std::vector<float>* logits, int* k) override {
    c10::InferenceMode guard;
    at::Tensor input = buffer_.narrow(0, 0, static_cast<int64_t>(n) * c * h * w).view({n, c, h, w});
    if (device_.is_cuda()) input = input.to(device_, /*non_blocking=*/true);
    if (half_) input = input.to(torch::kHalf);
    if (channels_last_) input = input.contiguous(at::MemoryFormat::ChannelsLast);
    c10::IValue out = Run(module_, method_, input);
    if (reference_) {
      // First batch of an optimised model: compare with the frozen model, keep it if the
      // optimisation moved the logits too far.
      c10::IValue ref = Run(*reference_, method_, input);
      at::Tensor a = Logits(ModelOutput(out), n), b = Logits(ModelOutput(ref), n);
      const double scale = b.abs().max().item<double>();
      const double change = (a - b).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
      char buf[96];
      std::snprintf(buf, sizeof(buf), "; first-batch max change %.2g of max|logit|", change);
      if (!(change <= kOptimizeTolerance)) {
        module_ = *reference_;
        out = ref;
        optimization_ = "frozen (optimize_for_inference rejected" + std::string(buf) + ")";
      } else {
        optimization_ += buf;
      }
      reference_.reset();
    }
    at::Tensor t = Logits(ModelOutput(out), n);
    t = t.to(torch::kCPU, torch::kFloat32).contiguous();
    *k = static_cast<int>(t.size(1));
    logits->assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    if (method_ == kFeaturesMethod) KeepFeatures(out.toTupleRef().elements()[1], t);
  }

  const std::vector<float>& features() const override { return features_; }
  const HeadWeights& head() const override { return head_; }

  void ForwardOdin(int n, int c, int h, int w, const OdinOptions& odin,
                   std::vector<float>* logits) override {
    if (!odin_) throw Error("internal error: ODIN asked of a model loaded without it");
    at::Tensor x = buffer_.narrow(0, 0, static_cast<int64_t>(n) * c * h * w)
                       .view({n, c, h, w})
                       .to(device_)
                       .clone()
                       .set_requires_grad(true);
    at::Tensor out;
    {
      torch::AutoGradMode grad(true);
      out = Logits(Run(grad_module_, "forward", x), n).to(torch::kFloat32);
      const at::Tensor labels = out.detach().argmax(1);
      const at::Tensor loss = torch::nn::functional::cross_entropy(out / odin.temperature, labels);
      // A model whose output does not depend on its input through differentiable operations
      // (detached, integer or no-grad code) has no input gradient for ODIN to follow.
      std::string why;
      try {
        loss.backward();
      } catch (const c10::Error& e) {
        why = LastLine(e.what_without_backtrace());
      }
      if (why.empty() && !x.grad().defined()) why = "its output does not depend on its input";
      if (!why.empty()) {
        throw Error("model '" + path_ +
                    "' cannot be differentiated with respect to its input, which ODIN's "
                    "perturbation needs (" +
                    why +
                    "); export it with torch.jit.script or trace, without torch.no_grad or "
                    "detach in forward, or score without --odin");
      }
    }
    torch::NoGradGuard no_grad;
    // sign with 0 -> +1, as torch.ge(grad, 0) does; then per channel / std.
    at::Tensor g = (x.grad().ge(0).to(torch::kFloat32) - 0.5) * 2;
    if (!odin.std.empty()) {
      at::Tensor std = torch::tensor(odin.std, torch::kFloat32).to(device_).view({1, c, 1, 1});
      g = g / std;
    }
    const at::Tensor perturbed = x.detach() - odin.epsilon * g;
    at::Tensor t = Logits(Run(grad_module_, "forward", perturbed), n);
    t = t.to(torch::kCPU, torch::kFloat32).contiguous();
    logits->assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }

  std::string device() const override { return device_.str(); }
  std::string dtype() const override { return half_ ? "float16" : "float32"; }
  std::string optimization() const override { return optimization_; }
  InputHint input_hint() const override { return hint_; }

 private:
  c10::IValue Run(torch::jit::Module& module, const std::string& method, const at::Tensor& input) {
    std::string what;
    try {
      return module.get_method(method)({input});
    } catch (const c10::Error& e) {
      what = e.what_without_backtrace();
    } catch (const std::exception& e) {
      what = e.what();
    }
    const std::string message = "model '" + path_ + "' failed on a batch of shape " +
                                TensorShape(input) + ": " + LastLine(what);
    const long long per_sample = input.numel() / std::max<int64_t>(1, input.size(0));
    const bool mismatch = (hint_.channels > 0 && hint_.channels != input.size(1)) ||
                          (hint_.features > 0 && hint_.features != per_sample);
    if (!mismatch) throw Error(message);
    throw ModelInputError(
        message + ". Its first layer '" + hint_.layer + "' " + hint_.shape + " takes " +
            (hint_.channels > 0 ? std::to_string(hint_.channels) + " input channel(s)"
                                : std::to_string(hint_.features) + " input features (c*h*w)") +
            ", the batch has " +
            (hint_.channels > 0 ? std::to_string(input.size(1)) + " channel(s)"
                                : std::to_string(per_sample) + " values per sample"),
        hint_);
  }

  // The model's own output: the first of kFeaturesMethod's pair.
  const c10::IValue& ModelOutput(const c10::IValue& out) const {
    return method_ == kFeaturesMethod ? out.toTupleRef().elements()[0] : out;
  }

  // Keeps the features [n, D]; on the first batch, checks that the head gives the logits.
  void KeepFeatures(const c10::IValue& value, const at::Tensor& logits) {
    if (!value.isTensor()) {
      throw Error("model '" + path_ + "': the head's input is " + Describe(value) +
                  ", expected a tensor");
    }
    at::Tensor f = value.toTensor().to(torch::kCPU, torch::kFloat32).flatten(1).contiguous();
    if (f.size(1) != head_.dim) {
      throw Error("model '" + path_ + "': the head '" + head_.name + "' takes " +
                  std::to_string(head_.dim) + " features, its input has shape " + TensorShape(f));
    }
    // Rows whose logits are NaN or Inf say nothing about the head: the pipeline names their
    // images. The check waits for a batch with a finite row.
    const at::Tensor finite_rows = torch::isfinite(logits).all(1);
    if (check_head_ && finite_rows.any().item<bool>()) {
      check_head_ = false;
      const at::Tensor w = torch::from_blob(head_.weight.data(), {head_.classes, head_.dim});
      const at::Tensor b = torch::from_blob(head_.bias.data(), {head_.classes});
      if (head_.classes != logits.size(1)) {
        throw Error("model '" + path_ + "': its head '" + head_.name + "' has " +
                    std::to_string(head_.classes) + " outputs, but the model returns " +
                    std::to_string(logits.size(1)) +
                    " logits; name the final linear layer "
                    "with --head");
      }
      const at::Tensor rows = finite_rows.nonzero().flatten();
      const at::Tensor l = logits.index_select(0, rows);
      const double scale = std::max(1.0, l.abs().max().item<double>());
      const double change =
          (torch::addmm(b, f.index_select(0, rows), w.t()) - l).abs().max().item<double>() / scale;
      if (!(change <= (half_ ? 1e-2 : 1e-3))) {  // float16 logits carry 3 digits
        throw Error("model '" + path_ + "': its head '" + head_.name +
                    "' applied to its input differs from the model's logits by " +
                    std::to_string(change) +
                    " of max|logit|: the model changes the head's output "
                    "(or '" +
                    head_.name + "' is not the final layer; name it with --head)");
      }
    }
    features_.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  }

  // The [n, K] float logits inside a model's output, or an Error saying what came instead.
  at::Tensor Logits(const c10::IValue& out, int n) {
    c10::IValue first = out;
    if (out.isTuple() && !out.toTupleRef().elements().empty())
      first = out.toTupleRef().elements()[0];
    if (out.isList() && !out.toListRef().empty()) first = out.toListRef()[0];
    if (!first.isTensor()) {
      throw Error(
          "model '" + path_ + "' returned " + Describe(out) +
          ", expected a 2-D float tensor [N, K] of logits (or a tuple whose first element is)");
    }
    at::Tensor t = first.toTensor();
    if (t.dim() != 2 || t.size(0) != n || t.size(1) < 2 || !at::isFloatingType(t.scalar_type())) {
      throw Error("model '" + path_ + "' returned " + Describe(first) + " for a batch of " +
                  std::to_string(n) + ", expected a float tensor of shape [" + std::to_string(n) +
                  ", K] with K >= 2 classes");
    }
    return t;
  }

  InputHint hint_;
  std::string method_;  // "forward", or kFeaturesMethod: (output, features)
  HeadWeights head_;
  bool check_head_;
  std::vector<float> features_;
  torch::jit::Module module_;
  torch::jit::Module grad_module_;  // as loaded, in eval mode: ODIN's gradients go through it
  bool odin_;
  std::optional<torch::jit::Module> reference_;
  torch::Device device_;
  bool half_;
  bool channels_last_;
  std::string path_;
  std::string optimization_;
  at::Tensor buffer_ = torch::empty({0});
};

std::unique_ptr<Model> LoadTorchModel(const std::filesystem::path& path,
                                      const ModelOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error("model file '" + path.string() + "' does not exist or is not a file");
  }
  torch::Device device = ResolveDevice(options.device);
  if (options.half && !device.is_cuda()) throw UsageError("--half needs a CUDA device");
  SetIntraOpThreads(options.threads);
  torch::jit::Module module = LoadScriptModule(path, device);
  module.eval();
  InputHint hint = ReadInputHint(module);
  std::optional<HeadWeights> head;
  if (options.features) head = AddFeaturesMethod(module, options.head, path.string());
  std::vector<std::string> methods;
  if (head) methods.push_back(kFeaturesMethod);
  // An independent copy before freezing, for what needs autograd (ODIN), only when asked:
  // it holds a second set of weights.
  torch::jit::Module grad_module = options.odin ? module.clone() : module;
  if (options.half) module.to(torch::kHalf);
  if (options.freeze && !device.is_cuda()) {
    // A frozen (and optimised) graph has had its static optimisations; the profiling
    // executor would only add a slow first call (measured: 56 ms against 12 ms for the demo
    // CNN's first batch) on CPU, where LibTorch does not fuse. On CUDA it can fuse: keep it.
    torch::jit::getProfilingMode() = false;
    torch::jit::getExecutorMode() = false;
  }
  std::string optimization = "none";
  std::optional<torch::jit::Module> reference;
  if (options.freeze) {
    try {
      module = torch::jit::freeze(module, methods);
      optimization = "frozen";
    } catch (const std::exception& e) {
      throw Error("cannot freeze model '" + path.string() + "' (try --no-freeze): " + e.what());
    }
    if (options.optimize && !device.is_cuda()) {
      try {
        // optimize_for_inference rewrites the graph in place: keep an independent copy of
        // the frozen model for the first-batch check.
        reference = module.clone();
        module = torch::jit::optimize_for_inference(module, methods);
        optimization = "frozen+optimize_for_inference";
      } catch (const std::exception& e) {
        optimization = "frozen (optimize_for_inference failed)";
      }
    }
  }
  return std::make_unique<TorchModel>(std::move(module), std::move(reference),
                                      std::move(grad_module), options.odin, device, options.half,
                                      options.channels_last && !device.is_cuda(), path.string(),
                                      optimization, std::move(hint), std::move(head));
}

// The LibTorch version this library is built with.
#ifdef TORCH_VERSION
constexpr char kLibTorchVersion[] = TORCH_VERSION;
#else
constexpr char kLibTorchVersion[] =
    OODSCORE_TORCH_API_STR(TORCH_VERSION_MAJOR) "." OODSCORE_TORCH_API_STR(
        TORCH_VERSION_MINOR) "." OODSCORE_TORCH_API_STR(TORCH_VERSION_PATCH);
#endif

std::string TorchVersionString() { return kLibTorchVersion; }

bool TorchCudaAvailable() { return torch::cuda::is_available(); }

int TorchIntraOpThreads() { return at::get_num_threads(); }

}  // namespace

std::string LastLine(std::string what) {
  while (!what.empty() && what.back() == '\n') what.pop_back();
  const std::size_t nl = what.rfind('\n');
  return nl == std::string::npos ? what : what.substr(nl + 1);
}

std::string TensorShape(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

torch::jit::Module LoadScriptModule(const std::filesystem::path& path, torch::Device device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error("model file '" + path.string() + "' does not exist or is not a file");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path.string(), device);
  } catch (const c10::Error& e) {
    throw Error("cannot load TorchScript model '" + path.string() +
                "': " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Error("cannot load TorchScript model '" + path.string() + "': " + e.what());
  }
  if (!module.find_method("forward")) {
    throw Error("model '" + path.string() + "' has no forward() method");
  }
  return module;
}

void SetIntraOpThreads(int threads) {
  at::set_num_threads(
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

torch::Device ResolveDevice(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::Device("cpu");
  if (name == "cpu") return torch::Device("cpu");
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw Error("device '" + name + "' requested, but " +
                  (torch::cuda::device_count() == 0 && !torch::hasCUDA()
                       ? std::string("this build of LibTorch has no CUDA support (build against an "
                                     "official CUDA LibTorch, see README)")
                       : std::string("no CUDA device is available")) +
                  "; use --device cpu");
    }
    torch::Device d("cpu");
    try {
      d = name == "cuda" ? torch::Device("cuda:0") : torch::Device(name);
    } catch (const c10::Error&) {
      throw UsageError("unknown device '" + name + "' (expected cpu, cuda, cuda:N or auto)");
    }
    if (d.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("device '" + name + "' requested, but only " +
                  std::to_string(torch::cuda::device_count()) + " CUDA device(s) exist");
    }
    return d;
  }
  throw UsageError("unknown device '" + name + "' (expected cpu, cuda, cuda:N or auto)");
}

}  // namespace oodscore

// The one symbol liboodscore_torch.so exports (src/model/model_loader.cc looks it up).
extern "C" __attribute__((visibility("default"))) const oodscore::TorchApi* OodscoreTorchApi() {
  static const oodscore::TorchApi api = {
      oodscore::kTorchApiMagic,      oodscore::kTorchApiVersion,
      sizeof(oodscore::TorchApi),    oodscore::kTorchApiCxxAbi,
      oodscore::kLibTorchVersion,    &oodscore::LoadTorchModel,
      &oodscore::LoadTorchTrainer,   &oodscore::TorchVersionString,
      &oodscore::TorchCudaAvailable, &oodscore::TorchIntraOpThreads,
      &oodscore::FitTorchDetectors,  &oodscore::MakeTorchFeatureScorer};
  return &api;
}
