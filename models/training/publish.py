"""Writes the model package the gateway loads: model.onnx, model.json and MODEL_CARD.md."""

import json
import os
from datetime import datetime, timezone

import onnx
import torch

from model import Exported


def export_onnx(net, path, meta):
    """Opset 17, input `image` [batch,3,H,W]; outputs `logits` [batch,classes] and `heatmap` [batch,1,h,w] in 0..1."""
    net.eval()
    dummy = torch.zeros(1, 3, meta["height"], meta["width"])
    torch.onnx.export(
        Exported(net),
        dummy,
        path,
        opset_version=17,
        input_names=["image"],
        output_names=["logits", "heatmap"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "heatmap": {0: "batch"}},
        do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)


def pct(v):
    return f"{100 * v:.1f} %"


def write_package(out, meta, counts, mean, std, thresholds, metrics, command, seconds, threads, epochs, review_budget):
    labels = meta["labels"]
    pass_below, fail_at = thresholds
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    data = (
        f"{meta['source']}; train {counts['train']}, val {counts['val']}, test {counts['test']} parts "
        f"from disjoint part-index ranges; resized to {meta['width']}x{meta['height']} with resizeForModel"
    )
    manifest = {
        "schemaVersion": 1,
        "id": "demo-part",
        "version": "1.0.0",
        "description": "Demo flange inspection: good or one of five defect kinds, with a 16x16 defect heat map. Trained on synthetic parts only.",
        "input": {
            "name": "image",
            "width": meta["width"],
            "height": meta["height"],
            "layout": "NCHW",
            "colorOrder": "RGB",
            "dtype": "float32",
            "scale": 1 / 255,
            "mean": mean,
            "std": std,
            "resize": "stretch",
        },
        "outputs": {
            "task": "classification",
            "scores": "logits",
            "activation": "softmax",
            "heatMap": "heatmap",
            "heatMapActivation": "none",
        },
        "labels": labels,
        "goodLabel": "good",
        "thresholds": {"passBelow": pass_below, "failAtOrAbove": fail_at},
        "provenance": {
            "trainingData": data,
            "createdAt": created,
            "command": command,
            "metrics": {
                "accuracy": round(metrics["accuracy"], 4),
                "defectRecall": round(metrics["defectRecall"], 4),
                "falseRejectRate": round(metrics["falseRejectRate"], 4),
                "reviewShare": round(metrics["reviewShare"], 4),
                "confidentVerdictAccuracy": round(metrics["confidentVerdictAccuracy"], 4),
                "testParts": metrics["count"],
            },
        },
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    per_class = "\n".join(f"| {label} | {pct(metrics['perClassRecall'][label])} |" for label in labels if label in metrics["perClassRecall"])
    card = f"""# demo-part 1.0.0

A small convolutional network that inspects a turned steel flange (centre
bore, six bolt holes) seen from above on a conveyor. It answers with one of
`{'`, `'.join(labels)}` and a 16x16 heat map of where it sees a defect.

## Intended use

Demonstrating and testing the Loupe gateway end to end with the synthetic
line (`camera.type: synthetic`): verdicts, the review queue, the heat-map
overlay in the HMI, drift and correction flows. It is **not** a model for any
real part: it has only ever seen rendered images.

## Data

{data}.

Each part is either good or carries exactly one defect: a scratch (thin
bright or dark line), a dent (shaded depression), a crack (jagged dark line
from an edge or hole), contamination (oil, rust, dirt or coolant stain) or a
missing (undrilled) bolt hole. Pose, lighting, texture and noise vary, and so do
defect size and contrast, down to barely visible, so some parts are
genuinely hard. The heat-map head learns from the renderer's defect
masks, max-pooled to 16x16.

## Model

- Input `image` float32 [batch, 3, {meta['height']}, {meta['width']}], RGB, pixel / 255, then per channel (x - mean) / std with
  mean {mean} and std {std} (in model.json).
- Outputs `logits` [batch, {len(labels)}] (softmax in the gateway) and `heatmap` [batch, 1, 16, 16], already 0..1.
- Trained for {epochs} epochs on {threads} CPU threads in {seconds / 60:.1f} min (including evaluation and export), seeded.

## Metrics

Measured on the {metrics['count']} held-out test parts ({metrics['defective']} defective, {metrics['good']} good), by

```
{command}
```

| metric | value |
| --- | --- |
| accuracy (6 classes, argmax) | {pct(metrics['accuracy'])} |
| defect recall (defective parts not called good) | {pct(metrics['defectRecall'])} |
| false-reject rate (good parts called defective) | {pct(metrics['falseRejectRate'])} |

Recall per class:

| class | recall |
| --- | --- |
{per_class}

### With the suggested thresholds

The defect score is 1 - P(good). model.json suggests `passBelow` {pass_below}
and `failAtOrAbove` {fail_at}: on the validation split, the band that sends at
most {pct(review_budget)} of parts to an operator and removes the costliest
mistakes there (a shipped defect counted 10, a failed good part 3). On the
test split:

| | value |
| --- | --- |
| parts sent to review | {pct(metrics['reviewShare'])} |
| pass/fail correct among the confident rest | {pct(metrics['confidentVerdictAccuracy'])} |
| class correct among the confident rest | {pct(metrics['confidentClassAccuracy'])} |
| defective parts passed (escapes) | {metrics['escapes']} of {metrics['defective']} |
| good parts failed | {metrics['goodScrapped']} of {metrics['good']} |

## Limitations

- Synthetic images only, one part design, one camera geometry; expect nothing on real photos.
- One defect per part; two defects on one part were never seen in training.
- Brightness was augmented by only +-8 %: stronger lighting or colour drift
  (the synthetic line's `brightness` and `tint`) degrades it, which is what
  the drift demo is meant to show.
- The heat map is coarse (8 px cells at 128 px input) and marks where, not how sure.
"""
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as f:
        f.write(card)
