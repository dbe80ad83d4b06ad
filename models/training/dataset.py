"""Reads the raw dataset format written by gateway/src/vision/dataset-pack.ts (see README.md)."""

import json
import os

import numpy as np


class Split:
    """One split in memory: images NHWC uint8, heat-map targets N x h x w uint8, class indices."""

    def __init__(self, folder):
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = json.load(f)
        n, h, w = self.meta["count"], self.meta["height"], self.meta["width"]
        hh, hw = self.meta["heatMapHeight"], self.meta["heatMapWidth"]
        self.labels = self.meta["labels"]
        self.images = np.fromfile(os.path.join(folder, "images.u8"), dtype=np.uint8).reshape(n, h, w, 3)
        self.masks = np.fromfile(os.path.join(folder, "masks.u8"), dtype=np.uint8).reshape(n, hh, hw)
        rows = []
        with open(os.path.join(folder, "index.jsonl")) as f:
            for line in f:
                rows.append(json.loads(line))
        if len(rows) != n:
            raise ValueError(f"{folder}: index.jsonl has {len(rows)} rows, meta.json says {n}")
        self.targets = np.array([r["classIndex"] for r in rows], dtype=np.int64)
        self.has_mask = np.array([r["hasMask"] for r in rows], dtype=bool)
        self.source_refs = [r["sourceRef"] for r in rows]

    def __len__(self):
        return len(self.targets)


def load(root):
    """The train, val and test splits under `root`; all must share size and labels."""
    splits = {name: Split(os.path.join(root, name)) for name in ("train", "val", "test")}
    first = splits["train"].meta
    for name, s in splits.items():
        for key in ("width", "height", "labels", "heatMapWidth", "heatMapHeight"):
            if s.meta[key] != first[key]:
                raise ValueError(f"{name}/meta.json: {key} differs from train")
    return splits
