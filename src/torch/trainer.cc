// The fine-tuning step on LibTorch (include/oodscore/trainer.h). Built into
// liboodscore_torch.so with the rest of src/torch/, the only code that includes LibTorch.
#include "oodscore/trainer.h"

#include <torch/script.h>
#include <torch/torch.h>

#include "oodscore/error.h"
#include "torch/torch_common.h"

namespace oodscore {

namespace {

class TorchTrainer : public Trainer {
 public:
  TorchTrainer(const std::filesystem::path& path, const TrainerOptions& options)
      : path_(path.string()), options_(options), device_(ResolveDevice(options.device)) {
    SetIntraOpThreads(options.threads);
    torch::manual_seed(options.seed);
    LoadModule(path);
  }

  float* InputBuffer(std::size_t floats) override {
    if (static_cast<std::size_t>(buffer_.numel()) < floats) {
      buffer_ = torch::empty({static_cast<int64_t>(floats)}, torch::kFloat32);
    }
    return buffer_.data_ptr<float>();
  }

  StepLosses Step(int n_in, int n_out, int c, int h, int w, const std::vector<std::int64_t>& labels,
                  double lr, double m_in, double m_out, double lambda) override {
    if (n_in <= 0 || static_cast<int>(labels.size()) != n_in) {
      throw Error("internal error: a step needs ID images and one label each");
    }
    at::Tensor logits = Forward(n_in + n_out, c, h, w);
    at::Tensor target = torch::tensor(labels, torch::kInt64).to(device_);
    const int64_t k = logits.size(1);
    if (target.max().item<int64_t>() >= k || target.min().item<int64_t>() < 0) {
      throw Error("model '" + path_ + "' has " + std::to_string(k) +
                  " outputs, but the training set has class index " +
                  std::to_string(target.max().item<int64_t>()) +
                  ": the ID classes must be the model's classes, in folder order");
    }
    at::Tensor in = logits.narrow(0, 0, n_in);
    at::Tensor ce = torch::nn::functional::cross_entropy(in, target);
    at::Tensor energy_in = -torch::logsumexp(in, 1);
    at::Tensor hinge_in = torch::relu(energy_in - m_in).pow(2).mean();
    at::Tensor hinge_out = torch::zeros({}, logits.options());
    if (n_out > 0) {
      at::Tensor energy_out = -torch::logsumexp(logits.narrow(0, n_in, n_out), 1);
      hinge_out = torch::relu(m_out - energy_out).pow(2).mean();
    }
    at::Tensor loss = ce + lambda * (hinge_in + hinge_out);
    StepLosses out;
    out.total = loss.item<double>();
    out.ce = ce.item<double>();
    out.hinge_in = hinge_in.item<double>();
    out.hinge_out = hinge_out.item<double>();
    out.correct = static_cast<int>((in.argmax(1) == target).sum().item<int64_t>());
    for (auto& group : optimizer_->param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    }
    optimizer_->zero_grad();
    try {
      loss.backward();
    } catch (const c10::Error& e) {
      throw Error("model '" + path_ + "' cannot be trained: its loss has no gradient (" +
                  LastLine(e.what_without_backtrace()) +
                  "); export it with torch.jit.script or trace, unfrozen and without detach");
    }
    optimizer_->step();
    // One host sync for every parameter: a step that overflowed must not be saved.
    at::Tensor bad = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device_));
    for (const auto& p : module_.parameters()) bad += torch::isfinite(p).logical_not().sum();
    out.parameters_finite = bad.item<int64_t>() == 0;
    return out;
  }

  void Evaluate(int n, int c, int h, int w, std::vector<float>* logits, int* k) override {
    torch::NoGradGuard no_grad;
    module_.eval();
    at::Tensor t;
    try {
      t = Forward(n, c, h, w);
    } catch (...) {
      module_.train();
      throw;
    }
    module_.train();
    t = t.to(torch::kCPU, torch::kFloat32).contiguous();
    *k = static_cast<int>(t.size(1));
    logits->assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }

  void Save(const std::filesystem::path& path) override {
    module_.eval();
    try {
      module_.save(path.string());
    } catch (const std::exception& e) {
      module_.train();
      throw Error("cannot write '" + path.string() + "': " + e.what());
    }
    module_.train();
  }

  void SaveCheckpoint(const std::filesystem::path& module_path,
                      const std::filesystem::path& optimizer_path) override {
    try {
      module_.save(module_path.string());
      torch::serialize::OutputArchive archive;
      optimizer_->save(archive);
      archive.save_to(optimizer_path.string());
    } catch (const std::exception& e) {
      throw Error("cannot write checkpoint '" + module_path.string() + "': " + e.what());
    }
  }

  void LoadCheckpoint(const std::filesystem::path& module_path,
                      const std::filesystem::path& optimizer_path) override {
    LoadModule(module_path);
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(optimizer_path.string(), device_);
      optimizer_->load(archive);
    } catch (const std::exception& e) {
      throw Error("cannot read checkpoint '" + optimizer_path.string() + "': " + e.what());
    }
  }

  std::size_t parameter_count() const override {
    std::size_t n = 0;
    for (const auto& p : params_) n += static_cast<std::size_t>(p.numel());
    return n;
  }
  std::string device() const override { return device_.str(); }

 private:
  void LoadModule(const std::filesystem::path& path) {
    module_ = LoadScriptModule(path, device_);
    params_.clear();
    for (const auto& p : module_.parameters(/*recurse=*/true)) {
      if (!p.is_floating_point()) continue;
      p.set_requires_grad(true);
      params_.push_back(p);
    }
    if (params_.empty()) {
      throw Error("model '" + path.string() +
                  "' has no trainable parameters: a frozen or optimised TorchScript module "
                  "(torch.jit.freeze, optimize_for_inference) keeps its weights as constants. "
                  "Fine-tune the module as torch.jit.script or torch.jit.trace saved it, "
                  "before freezing");
    }
    module_.train();
    optimizer_ =
        std::make_unique<torch::optim::SGD>(params_, torch::optim::SGDOptions(1e-3)
                                                         .momentum(options_.momentum)
                                                         .nesterov(options_.nesterov)
                                                         .weight_decay(options_.weight_decay));
  }

  // The [n, K] float logits of the first n images in the buffer.
  at::Tensor Forward(int n, int c, int h, int w) {
    at::Tensor input =
        buffer_.narrow(0, 0, static_cast<int64_t>(n) * c * h * w).view({n, c, h, w}).to(device_);
    c10::IValue out;
    std::string what;
    try {
      out = module_.forward({input});
    } catch (const c10::Error& e) {
      what = e.what_without_backtrace();
    } catch (const std::exception& e) {  // TorchScript's own errors (torch::jit::JITException)
      what = e.what();
    }
    if (!what.empty()) {
      throw Error("model '" + path_ + "' failed on a batch of shape " + TensorShape(input) +
                  " (the --preset's size): " + LastLine(what));
    }
    c10::IValue first = out;
    if (out.isTuple() && !out.toTupleRef().elements().empty())
      first = out.toTupleRef().elements()[0];
    if (!first.isTensor() || first.toTensor().dim() != 2 || first.toTensor().size(0) != n ||
        first.toTensor().size(1) < 2 || !first.toTensor().is_floating_point()) {
      throw Error("model '" + path_ +
                  "' must return float logits [N, K] (K >= 2) to be "
                  "fine-tuned; for a batch of " +
                  std::to_string(n) + " it returned " +
                  (first.isTensor() ? "a tensor of shape " + TensorShape(first.toTensor())
                                    : "a " + first.tagKind()));
    }
    return first.toTensor().to(torch::kFloat32);
  }

  std::string path_;
  TrainerOptions options_;
  torch::Device device_;
  torch::jit::Module module_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
  at::Tensor buffer_ = torch::empty({0});
};

}  // namespace

std::unique_ptr<Trainer> LoadTorchTrainer(const std::filesystem::path& path,
                                          const TrainerOptions& options) {
  return std::make_unique<TorchTrainer>(path, options);
}

}  // namespace oodscore
