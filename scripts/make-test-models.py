"""
Writes the tiny ONNX models that the output-adapter tests run for real:

    /usr/bin/python3 scripts/make-test-models.py [--out test/fixtures/models]

Each model is fixed arithmetic (no training, no random weights), so its
outputs for a given input are known exactly; test/fixtures/models/README.md
lists them. Needs torch and onnx.
"""

import argparse
import json
import os

import onnx
import torch
import torch.nn.functional as F
from torch import nn

OPSET = 17


def grey_level(x):
    """Mean over RGB, keeping a channel axis: [1,3,H,W] -> [1,1,H,W]."""
    return x.mean(dim=1, keepdim=True)


class Anomaly(nn.Module):
    """anomalib-shaped: the map is each pixel's distance from mid grey, the score its maximum."""

    def forward(self, input):
        anomaly_map = (grey_level(input) - 0.5).abs()
        pred_score = anomaly_map.flatten(1).amax(1)
        return anomaly_map, pred_score


DET_SIZE = 64
DET_STRIDE = 4
DET_BOX = 16


class Detection(nn.Module):
    """
    YOLOv8-shaped: one candidate box of 16x16 px every 4 px. A class's
    confidence is how much of the box is bright (or dark), mapped so that only
    boxes more than 62.5 % covered pass 0.25: a 16x16 square gives a few
    heavily overlapping candidates that NMS must reduce to one.
    """

    def __init__(self):
        super().__init__()
        cells = DET_SIZE // DET_STRIDE
        centres = torch.arange(cells, dtype=torch.float32) * DET_STRIDE + DET_STRIDE / 2
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        boxes = torch.stack([cx.flatten(), cy.flatten(), torch.full_like(cx.flatten(), DET_BOX), torch.full_like(cx.flatten(), DET_BOX)])
        self.register_buffer("boxes", boxes.unsqueeze(0))

    def forward(self, images):
        g = grey_level(images)
        bright = ((g - 0.6) / 0.2).clamp(0, 1)
        dark = ((0.4 - g) / 0.2).clamp(0, 1)
        pad = (DET_BOX - DET_STRIDE) // 2
        cover = F.avg_pool2d(torch.cat([bright, dark], dim=1), DET_BOX, DET_STRIDE, pad, count_include_pad=True)
        conf = ((cover - 0.5) * 2).clamp(0, 1).flatten(2)
        return torch.cat([self.boxes, conf], dim=1)


class Classification(nn.Module):
    """Scores from mean channel values: red and blue win by their excess over the other two channels."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.0, 0.0, 0.0], [10.0, -5.0, -5.0], [-5.0, -5.0, 10.0]]))
            self.linear.bias.copy_(torch.tensor([2.0, 0.0, 0.0]))

    def forward(self, input):
        return self.linear(input.mean(dim=(2, 3)))


def input_spec(name, size, resize="stretch"):
    return {
        "name": name,
        "width": size,
        "height": size,
        "layout": "NCHW",
        "colorOrder": "RGB",
        "dtype": "float32",
        "scale": 1 / 255,
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
        "resize": resize,
    }


MODELS = {
    "anomaly": {
        "module": Anomaly,
        "inputs": ["input"],
        "outputs": ["anomaly_map", "pred_score"],
        "size": 64,
        "manifest": {
            "id": "test-anomaly",
            "description": "Test fixture: anomaly = distance of the pixel's grey level from mid grey.",
            "input": input_spec("input", 64),
            "outputs": {
                "task": "anomaly",
                "map": "anomaly_map",
                "score": "pred_score",
                # Raw 0.1 (grey level 0.4 or 0.6) lands on 0.5 after normalisation; raw 0.5 (black or white) on 1.
                "normalization": {"imageThreshold": 0.1, "pixelThreshold": 0.1, "min": 0, "max": 0.5},
                "anomalyLabel": "anomaly",
            },
            "labels": ["anomaly"],
        },
    },
    "detection": {
        "module": Detection,
        "inputs": ["images"],
        "outputs": ["output0"],
        "size": DET_SIZE,
        "manifest": {
            "id": "test-detection",
            "description": "Test fixture: finds bright and dark 16x16 squares on mid grey.",
            "input": input_spec("images", DET_SIZE, "letterbox"),
            "outputs": {"task": "detection", "output": "output0", "format": "yolov8", "minScore": 0.25, "iouThreshold": 0.45, "maxDetections": 100},
            "labels": ["bright", "dark"],
        },
    },
    "classification": {
        "module": Classification,
        "inputs": ["input"],
        "outputs": ["scores"],
        "size": 32,
        "manifest": {
            "id": "test-classification",
            "description": "Test fixture: good for grey, red or blue when that channel dominates.",
            "input": input_spec("input", 32),
            "outputs": {"task": "classification", "scores": "scores", "activation": "softmax"},
            "labels": ["good", "red", "blue"],
            "goodLabel": "good",
            "thresholds": {"passBelow": 0.3, "failAtOrAbove": 0.7},
        },
    },
}


def build(out, name, spec):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    module = spec["module"]().eval()
    dummy = torch.full((1, 3, spec["size"], spec["size"]), 0.5)
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(module, dummy, path, opset_version=OPSET, input_names=spec["inputs"], output_names=spec["outputs"])
    model = onnx.load(path)
    # Same bytes on every run: the exporter stamps its own version into the file.
    model.producer_version = ""
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    manifest = {"schemaVersion": 1, "version": "1.0.0", **spec["manifest"], "provenance": {"command": "/usr/bin/python3 scripts/make-test-models.py"}}
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {folder}/model.onnx ({os.path.getsize(path)} bytes), model.json")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="test/fixtures/models")
    args = p.parse_args()
    torch.manual_seed(0)
    for name, spec in MODELS.items():
        build(args.out, name, spec)


if __name__ == "__main__":
    main()
