// Finding a TorchScript classifier's final linear layer, and its input (the penultimate
// features), without changing the model (src/torch/torch_common.h).
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/error.h"
#include "torch/torch_common.h"

namespace oodscore {

namespace {

// The attribute path a value is read from ("fc.weight"), or "" when it is not a chain of
// attribute reads starting at `self`.
std::string AttrPath(torch::jit::Value* v, const torch::jit::Value* self) {
  std::deque<std::string> names;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_front(v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (v != self || names.empty()) return "";
  std::string path;
  for (const auto& n : names) path += (path.empty() ? "" : ".") + n;
  return path;
}

// The submodule called `name` ("" = the module itself), if any.
std::optional<torch::jit::Module> Submodule(const torch::jit::Module& module,
                                            const std::string& name) {
  for (const auto& m : module.named_modules()) {
    if (m.name == name) return m.value;
  }
  return std::nullopt;
}

// Submodules whose `weight` is a 2-D tensor, in registration order: "fc1 [64, 1568]".
std::vector<std::pair<std::string, at::Tensor>> LinearLike(const torch::jit::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> found;
  for (const auto& m : module.named_modules()) {
    if (!m.value.hasattr("weight")) continue;
    const c10::IValue w = m.value.attr("weight");
    if (w.isTensor() && w.toTensor().dim() == 2) found.emplace_back(m.name, w.toTensor());
  }
  return found;
}

std::string Listed(const std::vector<std::pair<std::string, at::Tensor>>& layers) {
  if (layers.empty()) return "none";
  std::string s;
  for (const auto& [name, w] : layers) {
    s += (s.empty() ? "" : ", ") + (name.empty() ? std::string("(the module itself)") : name) +
         " " + TensorShape(w);
  }
  return s;
}

HeadWeights ReadHead(const torch::jit::Module& layer, const std::string& name) {
  HeadWeights head;
  head.name = name;
  const at::Tensor w =
      layer.attr("weight").toTensor().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  head.classes = static_cast<int>(w.size(0));
  head.dim = static_cast<int>(w.size(1));
  head.weight.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
  head.bias.assign(static_cast<std::size_t>(head.classes), 0.0f);
  if (layer.hasattr("bias") && layer.attr("bias").isTensor()) {
    const at::Tensor b =
        layer.attr("bias").toTensor().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (b.numel() == head.classes)
      head.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
  }
  return head;
}

// Way 1: rewrite forward's inlined graph to also return the head's input. Returns false when
// forward applies no linear layer of a submodule's weight.
bool RewriteForward(torch::jit::Module& module, const std::string& wanted, const std::string& path,
                    HeadWeights* head) {
  auto& forward = torch::jit::toGraphFunction(module.get_method("forward").function());
  std::shared_ptr<torch::jit::Graph> graph = forward.graph()->copy();
  torch::jit::Inline(*graph);
  const torch::jit::Value* self = graph->inputs()[0];
  struct Applied {
    std::string name;
    torch::jit::Node* node;
  };
  std::vector<Applied> applied;
  for (torch::jit::Node* n : graph->nodes()) {  // the top-level block: its values reach return
    if (n->kind() != c10::aten::linear) continue;
    const std::string w = AttrPath(n->input(1), self);
    if (w == "weight") {
      applied.push_back({"", n});
    } else if (w.size() > 7 && w.compare(w.size() - 7, 7, ".weight") == 0) {
      applied.push_back({w.substr(0, w.size() - 7), n});
    }
  }
  if (applied.empty()) return false;
  const Applied* chosen = &applied.back();
  if (!wanted.empty()) {
    chosen = nullptr;
    for (const auto& a : applied) {
      if (a.name == wanted) chosen = &a;
    }
    if (chosen == nullptr) {
      std::string names;
      for (const auto& a : applied) names += (names.empty() ? "" : ", ") + a.name;
      throw UsageError("--head '" + wanted + "': model '" + path +
                       "' applies no linear layer of that name in forward() (linear layers "
                       "applied, in order: " +
                       names + ")");
    }
  }
  torch::jit::Value* features = chosen->node->input(0);
  torch::jit::Value* output = graph->outputs()[0];
  torch::jit::Node* pair = graph->createTuple({output, features});
  graph->appendNode(pair);
  graph->eraseOutput(0);
  graph->registerOutput(pair->output());
  const c10::QualifiedName name(*module.type()->name(), kFeaturesMethod);
  auto* fn = module._ivalue()->compilation_unit()->create_function(name, graph);
  module.type()->addMethod(fn);
  *head = ReadHead(*Submodule(module, chosen->name), chosen->name);
  return true;
}

// Way 2: timm's forward_features / forward_head(x, pre_logits).
bool DefineFromTimmMethods(torch::jit::Module& module, const std::string& wanted,
                           const std::string& path, HeadWeights* head) {
  if (!module.find_method("forward_features") || !module.find_method("forward_head")) return false;
  bool pre_logits = false;
  for (const auto& arg : module.get_method("forward_head").function().getSchema().arguments()) {
    pre_logits = pre_logits || arg.name() == "pre_logits";
  }
  if (!pre_logits) return false;
  const auto layers = LinearLike(module);
  const std::pair<std::string, at::Tensor>* chosen = layers.empty() ? nullptr : &layers.back();
  if (!wanted.empty()) {
    chosen = nullptr;
    for (const auto& l : layers) {
      if (l.first == wanted) chosen = &l;
    }
  }
  if (chosen == nullptr) {
    throw Error("model '" + path + "' exports forward_features/forward_head, but " +
                (wanted.empty() ? std::string("has no submodule with a 2-D weight")
                                : "has no submodule '" + wanted + "' with a 2-D weight") +
                " to read the head from (submodules with a 2-D weight: " + Listed(layers) + ")");
  }
  module.define(std::string("def ") + kFeaturesMethod +
                "(self, x):\n"
                "    f = self.forward_features(x)\n"
                "    return self.forward_head(f), self.forward_head(f, pre_logits=True)\n");
  *head = ReadHead(*Submodule(module, chosen->first), chosen->first);
  return true;
}

}  // namespace

HeadWeights AddFeaturesMethod(torch::jit::Module& module, const std::string& head,
                              const std::string& path) {
  HeadWeights found;
  if (RewriteForward(module, head, path, &found)) return found;
  if (DefineFromTimmMethods(module, head, path, &found)) return found;
  std::string submodules;
  for (const auto& m : module.named_modules()) {
    if (m.name.empty()) continue;
    submodules +=
        (submodules.empty() ? "" : ", ") + m.name + " (" + m.value.type()->name()->name() + ")";
  }
  throw Error("cannot find the classifier head of model '" + path +
              "': its forward() applies no linear layer of a submodule's weight (aten::linear), "
              "and it exports no forward_features/forward_head(x, pre_logits) methods. "
              "Submodules: " +
              (submodules.empty() ? std::string("none") : submodules) +
              "; with a 2-D weight: " + Listed(LinearLike(module)) +
              ". Feature-space detectors need the final linear layer's input");
}

}  // namespace oodscore
