#!/usr/bin/python3
"""An untrained CNN for the RGB 32x32 benchmark (throughput only; its scores mean nothing).

Same layout as models/fmnist5_cnn.pt (conv16-pool-conv32-pool-fc64-fc) with 3 input channels,
32x32 input and 10 classes, random weights from seed 0, saved as TorchScript.
  /usr/bin/python3 bench/make_bench_model.py OUT.pt
With --resnet18: torchvision's ResNet-18 (10 classes, 512-d penultimate features), the
detector benchmark's model (bench/detector_bench.cc), on 3x32x32 input.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 8 * 8, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


if __name__ == "__main__":
    torch.manual_seed(0)
    if "--resnet18" in sys.argv[2:]:
        import torchvision
        net = torchvision.models.resnet18(num_classes=10)
    else:
        net = Net()
    torch.jit.script(net.eval()).save(sys.argv[1])
