#!/usr/bin/python3
"""Golden values for ODIN (Liang, Li, Srikant, ICLR 2018), from OpenOOD v1.5's
ODINPostprocessor.postprocess, run on the tests' linear model (tests/test_models.cc:
logits = x.flatten(1) @ W^T + b, W[i][j] = 0.5 * sin(0.37 (i+1)(j+1)), b[i] = 0.1 i; 12 input
features as [N, 3, 2, 2], 3 classes) in float32, as the C++ model runs.

Writes tests/fixtures/odin_scores.json: for each (temperature, noise, std) setting, the inputs
and the ODIN confidence per sample. Needs Debian's python3-torch; run with /usr/bin/python3
from the project root.
"""
import json
import math

import torch
import torch.nn as nn


class Linear(nn.Module):
    def __init__(self, features=12, classes=3, scale=0.5):
        super().__init__()
        w = torch.tensor([[scale * math.sin(0.37 * (i + 1) * (j + 1)) for j in range(features)]
                          for i in range(classes)], dtype=torch.float32)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.arange(classes, dtype=torch.float32) * 0.1)

    def forward(self, x):
        return torch.matmul(x.flatten(1), self.weight.t()) + self.bias


def odin(net, data, temperature, noise, input_std):  # OpenOOD v1.5 ODINPostprocessor
    data.requires_grad = True
    output = net(data)
    criterion = nn.CrossEntropyLoss()
    labels = output.detach().argmax(axis=1)
    output = output / temperature
    loss = criterion(output, labels)
    loss.backward()
    gradient = torch.ge(data.grad.detach(), 0)
    gradient = (gradient.float() - 0.5) * 2
    gradient[:, 0] = (gradient[:, 0]) / input_std[0]
    gradient[:, 1] = (gradient[:, 1]) / input_std[1]
    gradient[:, 2] = (gradient[:, 2]) / input_std[2]
    temp_inputs = torch.add(data.detach(), gradient, alpha=-noise)
    output = net(temp_inputs)
    output = output / temperature
    nn_output = output.detach()
    nn_output = nn_output - nn_output.max(dim=1, keepdims=True).values
    nn_output = nn_output.exp() / nn_output.exp().sum(dim=1, keepdims=True)
    conf, _ = nn_output.max(dim=1)
    return conf


def main():
    net = Linear()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 3, 2, 2, generator=g) * 1.5
    cases = []
    for temperature, noise, std in [(1000.0, 0.0014, [0.2, 0.3, 0.4]), (10.0, 0.05, [0.5, 0.25, 1.0]),
                                    (1.0, 0.1, [1.0, 1.0, 1.0])]:
        conf = odin(net, x.clone(), temperature, noise, std)
        cases.append({"temperature": temperature, "epsilon": noise, "std": std,
                      "odin": [float(v) for v in conf]})
    with open("tests/fixtures/odin_scores.json", "w") as f:
        json.dump({"source": "OpenOOD v1.5 ODINPostprocessor, float32",
                   "features": 12, "classes": 3, "scale": 0.5, "shape": [6, 3, 2, 2],
                   "inputs": [float(v) for v in x.flatten()], "cases": cases}, f, indent=1)
        f.write("\n")
    print("tests/fixtures/odin_scores.json:", len(cases), "settings")


if __name__ == "__main__":
    main()
