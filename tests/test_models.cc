// Built into liboodscore_testmodels.so, the tests' only LibTorch code, which
// tests/test_models_loader.cc opens: the test binary itself, like the tool, links no LibTorch.
#include "test_models.h"

#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace oodscore::testing {

namespace {

void LinearModel(const std::string& path, int in_features, int classes, double scale) {
  torch::jit::Module m("TinyLinear");
  at::Tensor w = torch::empty({classes, in_features});
  auto acc = w.accessor<float, 2>();
  for (int i = 0; i < classes; ++i) {
    for (int j = 0; j < in_features; ++j)
      acc[i][j] = static_cast<float>(scale * std::sin(0.37 * (i + 1) * (j + 1)));
  }
  at::Tensor b = torch::arange(classes, torch::kFloat32) * 0.1;
  m.register_parameter("weight", w, false);
  m.register_parameter("bias", b, false);
  m.define(R"(
def forward(self, x):
    return torch.matmul(x.flatten(1), self.weight.t()) + self.bias
)");
  m.save(path);
}

void ConvModel(const std::string& path, int in_channels, int classes) {
  torch::jit::Module m("TinyConv");
  at::Tensor w =
      torch::arange(8 * in_channels * 9, torch::kFloat32).reshape({8, in_channels, 3, 3});
  m.register_parameter("conv_weight", torch::sin(w * 0.7) * 0.3, false);
  m.register_parameter("conv_bias", torch::linspace(-0.1, 0.1, 8), false);
  m.register_parameter(
      "fc_weight", torch::cos(torch::arange(classes * 8, torch::kFloat32).reshape({classes, 8})),
      false);
  m.register_parameter("fc_bias", torch::zeros({classes}), false);
  m.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.conv_weight, self.conv_bias, [1, 1], [1, 1]))
    y = y.mean([2, 3])
    return torch.matmul(y, self.fc_weight.t()) + self.fc_bias
)");
  m.save(path);
}

void OddModel(const std::string& path, const std::string& kind, int in_features) {
  torch::jit::Module m("Odd");
  m.register_parameter("weight", torch::ones({3, in_features}) * 0.01, false);
  std::string body;
  if (kind == "vector") {
    body = "    return torch.matmul(x.flatten(1), self.weight.t()).sum(1)\n";
  } else if (kind == "one_class") {
    body = "    return torch.matmul(x.flatten(1), self.weight.t())[:, 0:1]\n";
  } else if (kind == "int") {
    body = "    return torch.matmul(x.flatten(1), self.weight.t()).long()\n";
  } else if (kind == "nan") {
    body = "    return torch.matmul(x.flatten(1), self.weight.t()) * float('nan')\n";
  } else if (kind == "tuple") {
    body = "    y = torch.matmul(x.flatten(1), self.weight.t())\n    return (y, x.flatten(1))\n";
  } else if (kind == "string") {
    body = "    return 'logits'\n";
  } else if (kind == "softmax") {
    body = "    return torch.softmax(torch.matmul(x.flatten(1), self.weight.t()) * 100.0, 1)\n";
  } else if (kind == "detached") {
    body = "    return torch.matmul(x.flatten(1).detach(), self.weight.t())\n";
  } else if (kind == "frozen") {
    // Valid logits, but torch.jit.freeze'd: the weight is a constant, nothing trains.
    m.define("def forward(self, x):\n    return torch.matmul(x.flatten(1), self.weight.t())\n");
    m.eval();
    torch::jit::freeze(m).save(path);
    return;
  } else {
    throw std::invalid_argument("unknown odd model kind " + kind);
  }
  m.define("def forward(self, x):\n" + body);
  m.save(path);
}

// A submodule with a fixed weight [out, in] and bias, applied with aten::linear.
torch::jit::Module LinearLayer(int in, int out, double phase) {
  torch::jit::Module m("Linear");
  const at::Tensor idx = torch::arange(out * in, torch::kFloat32).reshape({out, in});
  m.register_parameter("weight", torch::sin(idx * 0.61 + phase) * 0.4, false);
  m.register_parameter("bias", torch::cos(torch::arange(out, torch::kFloat32) + phase) * 0.1,
                       false);
  m.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  return m;
}

void HeadModel(const std::string& path, const std::string& kind, int in_features, int classes) {
  torch::jit::Module m("Headed");
  if (kind == "timm") {
    const torch::jit::Module body = LinearLayer(in_features, 16, 0.3);
    m.register_parameter("body_weight", body.attr("weight").toTensor(), false);
    m.register_module("fc", LinearLayer(16, classes, 1.7));
    m.define(R"(
def forward_features(self, x):
    return torch.relu(torch.matmul(x.flatten(1), self.body_weight.t()))

def forward_head(self, x, pre_logits: bool = False):
    if pre_logits:
        return x
    return torch.addmm(self.fc.bias, x, self.fc.weight.t())

def forward(self, x):
    return self.forward_head(self.forward_features(x))
)");
  } else if (kind == "mlp" || kind == "scaled" || kind == "inf_white") {
    m.register_module("body", LinearLayer(in_features, 16, 0.3));
    m.register_module("fc", LinearLayer(16, classes, 1.7));
    const char* tail = kind == "scaled" ? " * 2.0\n"
                       : kind == "inf_white"
                           ? " / (x.flatten(1).mean(1, keepdim=True) < 1.99).float()\n"
                           : "\n";
    m.define(std::string("def forward(self, x):\n    return "
                         "self.fc.forward(torch.relu(self.body.forward(x.flatten(1))))") +
             tail);
  } else {
    throw std::invalid_argument("unknown head model kind " + kind);
  }
  m.save(path);
}

}  // namespace

}  // namespace oodscore::testing

extern "C" __attribute__((visibility("default"))) const oodscore::testing::TestModelApi*
OodscoreTestModelApi() {
  static const oodscore::testing::TestModelApi api = {
      &oodscore::testing::LinearModel, &oodscore::testing::ConvModel, &oodscore::testing::OddModel,
      &oodscore::testing::HeadModel};
  return &api;
}
