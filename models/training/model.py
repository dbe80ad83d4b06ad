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
        # Fine 16x16 features plus the wider context of the 8x8 ones, which is
        # what tells an undrilled hole from plain metal between two holes.
        self.fuse = block(64 + 96, 64, 1)
        self.heat = nn.Conv2d(64, 1, 1)
        # Start the map at "about 1 % of cells are defect" so early training is not spent unlearning 0.5.
        nn.init.constant_(self.heat.bias, -4.5)
        self.classify = nn.Linear(64 * 2 + 1, classes)

    def forward(self, x):
        mid = self.mid(self.stem(x))
        fused = self.fuse(torch.cat([mid, self.up(self.deep(mid))], dim=1))
        heat = self.heat(fused)
        # A defect covers a few cells of 256: pooling where the heat map points
        # lets the class head look at the defect instead of the whole part.
        attention = torch.softmax(heat.flatten(2), dim=2)
        features = fused.flatten(2)
        pooled = torch.cat([(features * attention).sum(2), features.mean(2), heat.flatten(2).amax(2)], dim=1)
        return self.classify(pooled), heat


class Exported(nn.Module):
    """What goes into model.onnx: normalised NCHW image in, logits and a 0..1 heat map out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        logits, heat = self.net(image)
        return logits, torch.sigmoid(heat)
