"""The demo part model: a small CNN with a class head and a coarse defect heat-map head."""

import torch
from torch import nn


def block(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PartNet(nn.Module):
    """128x128 RGB in; class logits and a 16x16 heat map (logits) out."""

    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(block(3, 16, 2), block(16, 32, 2), block(32, 32, 1))  # 32x32
        self.mid = nn.Sequential(block(32, 64, 2), block(64, 64, 1))  # 16x16
        self.deep = nn.Sequential(block(64, 96, 2), block(96, 96, 1))  # 8x8
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        # The heat map sees fine 16x16 features and the wider context of the 8x8 ones,
        # which it needs to tell an undrilled hole from plain metal between holes.
        self.heat = nn.Sequential(block(64 + 96, 48, 1), nn.Conv2d(48, 1, 1))
        self.classify = nn.Linear(96 * 2 + 1, classes)

    def forward(self, x):
        mid = self.mid(self.stem(x))
        deep = self.deep(mid)
        heat = self.heat(torch.cat([mid, self.up(deep)], dim=1))
        pooled = torch.cat(
            [deep.mean(dim=(2, 3)), deep.amax(dim=(2, 3)), heat.amax(dim=(2, 3))],
            dim=1,
        )
        return self.classify(pooled), heat


class Exported(nn.Module):
    """What goes into model.onnx: normalised NCHW image in, logits and a 0..1 heat map out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        logits, heat = self.net(image)
        return logits, torch.sigmoid(heat)
