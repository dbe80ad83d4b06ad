"""
Fine-tunes a station's model from operator corrections and writes a new
model package (model.onnx, model.json, MODEL_CARD.md) whose card names its
parent, the data it saw, its figures next to the parent's, and its hash.

    /usr/bin/python3 models/training/finetune.py \\
        --parent models/demo-part \\
        --corrections dataset-sink/dataset \\
        --data models/training/.cache/dataset \\
        --out models/candidates/demo-part-1.1.0

--corrections is what `loupe dataset-sink` packs (train/, val/, test/ and
corrections.jsonl); --data is any dataset in the same format: the original
training set (replayed, so the model does not forget what it knew) or an
ImageFolder of real photos packed by scripts/pack-image-folder.ts. Either may
be left out, not both.

The parent's weights are read back from its model.onnx, so any package that
train.py or this script wrote can be fine-tuned; no checkpoint is needed.
Its batch-norm layers arrive folded into the convolutions and stay frozen.

Evaluation, for the parent and the candidate side by side:
- held out: the test split of every dataset (never trained on);
- latest corrections: the newest --latest corrections (by decision time)
  the candidate did not train on (the corrections' val and test splits).
Progress goes to stderr; the last line on stdout is a JSON summary.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import time
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn

import dataset
import publish
import train
from model import PartNet


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parent", required=True, help="model package to start from (model.onnx + model.json)")
    p.add_argument("--corrections", help="dataset written by `loupe dataset-sink` (its `dataset` link or a pack folder)")
    p.add_argument("--data", action="append", default=[], help="further dataset folder(s) with train/, val/, test/ (repeatable)")
    p.add_argument("--out", required=True, help="model package folder to write")
    p.add_argument("--version", help="version of the new package; default: the parent's with the minor number raised")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--replay", type=int, default=1500, help="samples of --data train drawn afresh each epoch (default 1500)")
    p.add_argument("--corrections-weight", type=int, default=3, help="times each correction is seen per epoch (default 3)")
    p.add_argument("--latest", type=int, default=200, help="newest held-out corrections evaluated on their own (default 200)")
    p.add_argument("--keep-thresholds", action="store_true", help="keep the parent's thresholds instead of choosing them on val")
    p.add_argument("--heat-weight", type=float, default=1.0, help="weight of the heat-map loss (samples with masks only)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--command", default="", help="command line recorded in model.json and the card")
    args = p.parse_args()
    if not args.corrections and not args.data:
        p.error("give --corrections, --data or both")
    return args


# --- the parent -----------------------------------------------------------------


def load_parent(folder):
    """The parent's manifest and a PartNet holding its weights, read back from model.onnx."""
    with open(os.path.join(folder, "model.json")) as f:
        manifest = json.load(f)
    spec = manifest["input"]
    outputs = manifest["outputs"]
    if outputs.get("task") != "classification" or not outputs.get("heatMap"):
        raise SystemExit(f"{folder}: only classification models with a heat map (train.py's PartNet) can be fine-tuned here")
    if spec.get("layout", "NCHW") != "NCHW" or spec.get("colorOrder", "RGB") != "RGB" or abs(spec.get("scale", 1 / 255) - 1 / 255) > 1e-9:
        raise SystemExit(f"{folder}: expected NCHW RGB input scaled by 1/255, as train.py writes")
    path = os.path.join(folder, "model.onnx")
    with open(path, "rb") as f:
        raw = f.read()
    net = PartNet(len(manifest["labels"]))
    import_onnx_weights(net, onnx.load_from_string(raw), path)
    return manifest, net, hashlib.sha256(raw).hexdigest()


def import_onnx_weights(net, graph_model, where):
    """
    Copy the weights of an exported PartNet back into `net`. The exporter
    folded every batch norm into the convolution before it, so each such
    pair comes back as the folded convolution followed by a batch norm that
    only adds the bias (mean 0, variance 1 - eps, scale 1); exported again,
    it folds into exactly the same graph.
    """
    graph = graph_model.graph
    init = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    # The graph runs the convolutions in the order PartNet registers them (stem, mid, deep, fuse, heat).
    modules = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    by_name = dict(net.named_modules())
    if len(convs) != len(modules) or len(gemms) != 1:
        raise SystemExit(f"{where}: {len(convs)} convolutions and {len(gemms)} dense layers, expected {len(modules)} and 1: not a PartNet export")
    state = {}
    for node, (name, conv) in zip(convs, modules):
        w = init[node.input[1]]
        b = init[node.input[2]] if len(node.input) > 2 else torch.zeros(w.shape[0])
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise SystemExit(f"{where}: convolution {name} has shape {tuple(w.shape)} in the graph, PartNet expects {tuple(conv.weight.shape)}")
        state[f"{name}.weight"] = w
        if conv.bias is not None:
            state[f"{name}.bias"] = b
            continue
        prefix, index = name.rsplit(".", 1)
        bn_name = f"{prefix}.{int(index) + 1}"
        bn = by_name[bn_name]
        state[f"{bn_name}.weight"] = torch.ones_like(bn.weight)
        state[f"{bn_name}.bias"] = b
        state[f"{bn_name}.running_mean"] = torch.zeros_like(bn.running_mean)
        state[f"{bn_name}.running_var"] = torch.full_like(bn.running_var, 1 - bn.eps)
        state[f"{bn_name}.num_batches_tracked"] = torch.zeros_like(bn.num_batches_tracked)
    gemm = gemms[0]
    w, b = init[gemm.input[1]], init[gemm.input[2]]
    trans_b = next((a.i for a in gemm.attribute if a.name == "transB"), 0)
    state["classify.weight"] = w if trans_b else w.t()
    state["classify.bias"] = b
    if tuple(state["classify.weight"].shape) != tuple(net.classify.weight.shape):
        raise SystemExit(f"{where}: class head has shape {tuple(state['classify.weight'].shape)}, expected {tuple(net.classify.weight.shape)}: labels in model.json do not fit the graph")
    net.load_state_dict(state, strict=True)


def freeze_batch_norm(net):
    """Folded batch norms carry no statistics to update: keep them as the fixed bias they are."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def next_version(v):
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", v)
    return f"{m.group(1)}.{int(m.group(2)) + 1}.0" if m else f"{v}-ft1"


# --- data -----------------------------------------------------------------------


class Samples:
    """Images, heat-map targets and classes in the parent's label order (what train.predict and evaluate read)."""

    def __init__(self, images, masks, has_mask, targets, refs):
        self.images, self.masks, self.has_mask, self.targets, self.refs = images, masks, has_mask, targets, refs

    def __len__(self):
        return len(self.targets)

    def take(self, index):
        index = np.asarray(index, dtype=np.int64)
        return Samples(self.images[index], self.masks[index], self.has_mask[index], self.targets[index], [self.refs[i] for i in index])

    @staticmethod
    def concat(parts, shape):
        parts = [p for p in parts if len(p) > 0]
        if not parts:
            h, w, hh, hw = shape
            return Samples(np.zeros((0, h, w, 3), np.uint8), np.zeros((0, hh, hw), np.uint8), np.zeros(0, bool), np.zeros(0, np.int64), [])
        return Samples(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.masks for p in parts]),
            np.concatenate([p.has_mask for p in parts]),
            np.concatenate([p.targets for p in parts]),
            [r for p in parts for r in p.refs],
        )


def in_parent_order(split, labels, where, dropped):
    """Map a split's class indices onto the parent's labels; samples of unknown labels are dropped and counted."""
    index = np.array([labels.index(l) if l in labels else -1 for l in split.labels], dtype=np.int64)
    targets = index[split.targets] if len(split) else np.zeros(0, np.int64)
    keep = np.flatnonzero(targets >= 0)
    for t in split.targets[targets < 0]:
        key = f"{where}:{split.labels[t]}"
        dropped[key] = dropped.get(key, 0) + 1
    s = Samples(split.images, split.masks, split.has_mask, targets, split.source_refs)
    return s.take(keep)


def load_dataset(root, labels, size, dropped):
    splits = dataset.load(root)
    meta = splits["train"].meta
    if (meta["width"], meta["height"]) != size:
        raise SystemExit(f"{root}: images are {meta['width']}x{meta['height']}, the parent takes {size[0]}x{size[1]}: pack the dataset at the model's input size")
    return {name: in_parent_order(s, labels, f"{root}/{name}", dropped) for name, s in splits.items()}, meta


def decision_times(root):
    """correctionId -> decidedAt from the sink's corrections.jsonl (absent for other datasets)."""
    path = os.path.join(root, "corrections.jsonl")
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out[row["correctionId"]] = row.get("decidedAt", "")
    return out


# --- training -------------------------------------------------------------------


def finetune(args, net, pool, n_replay_pool, mean, std):
    """`pool` = replay data first (n_replay_pool samples), then corrections; per epoch a fresh replay draw plus every correction `weight` times."""
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    n_corr = len(pool) - n_replay_pool
    per_epoch = min(args.replay, n_replay_pool) + n_corr * args.corrections_weight
    if per_epoch == 0:
        raise SystemExit("nothing to train on: the datasets are empty")
    steps_per_epoch = (per_epoch + args.batch - 1) // args.batch
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    targets = torch.from_numpy(pool.targets)
    has_mask = torch.from_numpy(pool.has_mask)
    pos_weight = torch.tensor([10.0])
    started = time.time()
    done_steps = 0
    last_report = 0.0
    for epoch in range(1, args.epochs + 1):
        net.train()
        freeze_batch_norm(net)
        replay = rng.choice(n_replay_pool, size=min(args.replay, n_replay_pool), replace=False) if n_replay_pool else np.zeros(0, np.int64)
        corr = np.tile(np.arange(n_replay_pool, len(pool)), args.corrections_weight)
        order = np.concatenate([replay, corr])
        rng.shuffle(order)
        total, seen = 0.0, 0
        for step, i in enumerate(range(0, len(order), args.batch), start=1):
            idx = order[i : i + args.batch]
            x = train.to_tensor(pool.images[idx], mean, std)
            m = torch.from_numpy(pool.masks[idx]).float().div_(255).unsqueeze(1)
            x, m = train.augment(x, m, gen)
            logits, heat = net(x)
            t = targets[idx]
            loss = F.cross_entropy(logits, t)
            sel = has_mask[idx]
            if sel.any():
                loss = loss + args.heat_weight * F.binary_cross_entropy_with_logits(heat[sel], m[sel], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
            done_steps += 1
            now = time.time()
            if now - last_report >= 5 or step == steps_per_epoch:
                last_report = now
                elapsed = now - started
                left = elapsed / done_steps * (args.epochs * steps_per_epoch - done_steps)
                log(f"epoch {epoch}/{args.epochs}  batch {step}/{steps_per_epoch}  loss {total / seen:.4f}  {elapsed:.0f} s, about {left:.0f} s left")
    net.eval()
    return net


# --- evaluation -----------------------------------------------------------------


def clean(v):
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    return v


def measure(net, samples, labels, good, thresholds, mean, std):
    """train.evaluate's figures for one set, or None when the set is empty."""
    if len(samples) == 0:
        return None
    probs, _ = train.predict(net, samples, mean, std)
    # A set without defective (or without good) parts has no recall: evaluate says NaN, the card says n/a.
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return clean(train.evaluate(probs, samples.targets, labels, good, thresholds))


def pct(v):
    return "n/a" if v is None else publish.pct(v)


def figures_row(name, parent, cand):
    def cell(m, key):
        return "n/a" if m is None else pct(m[key])

    def count(m, key, of):
        return "n/a" if m is None else f"{m[key]} of {m[of]}"

    return (
        f"| {name} | {parent['count'] if parent else 0} | {cell(parent, 'accuracy')} / {cell(cand, 'accuracy')} "
        f"| {count(parent, 'escapes', 'defective')} / {count(cand, 'escapes', 'defective')} "
        f"| {count(parent, 'goodScrapped', 'good')} / {count(cand, 'goodScrapped', 'good')} "
        f"| {cell(parent, 'reviewShare')} / {cell(cand, 'reviewShare')} |"
    )


# --- main -----------------------------------------------------------------------


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()

    manifest, net, parent_sha = load_parent(args.parent)
    labels = manifest["labels"]
    good = labels.index(manifest.get("goodLabel", "good"))
    spec = manifest["input"]
    size = (spec["width"], spec["height"])
    mean_list, std_list = spec["mean"], spec["std"]
    mean, std = torch.tensor(mean_list, dtype=torch.float32), torch.tensor(std_list, dtype=torch.float32)
    parent_ref = f"{manifest['id']}@{manifest['version']} sha256:{parent_sha}"
    parent_thresholds = manifest.get("thresholds") or {"passBelow": 0.2, "failAtOrAbove": 0.8}
    log(f"parent {parent_ref}")

    dropped = {}
    shape = (spec["height"], spec["width"], 16, 16)
    base, meta = [], None
    for root in args.data:
        splits, meta = load_dataset(root, labels, size, dropped)
        base.append(splits)
        log(f"{root}: train {len(splits['train'])}, val {len(splits['val'])}, test {len(splits['test'])}")
    corr = None
    latest = Samples.concat([], shape)
    if args.corrections:
        root = os.path.realpath(args.corrections)
        corr, cmeta = load_dataset(root, labels, size, dropped)
        meta = meta or cmeta
        shape = (spec["height"], spec["width"], cmeta["heatMapHeight"], cmeta["heatMapWidth"])
        times = decision_times(root)
        held = Samples.concat([corr["val"], corr["test"]], shape)
        if times and len(held):
            newest = sorted(range(len(held)), key=lambda i: times.get(held.refs[i], ""), reverse=True)[: args.latest]
            latest = held.take(sorted(newest))
        log(f"{args.corrections}: corrections train {len(corr['train'])}, val {len(corr['val'])}, test {len(corr['test'])}; latest held out {len(latest)}")
    if dropped:
        log(f"samples left out, their label is not one of the parent's ({', '.join(labels)}): {dropped}")

    replay_pool = Samples.concat([s["train"] for s in base], shape)
    corr_train = corr["train"] if corr else Samples.concat([], shape)
    pool = Samples.concat([replay_pool, corr_train], shape)
    n_replay = len(replay_pool)
    val = Samples.concat([s["val"] for s in base] + ([corr["val"]] if corr else []), shape)
    tests = [(f"held out: {os.path.basename(os.path.normpath(root))} test", s["test"]) for root, s in zip(args.data, base)]
    if corr:
        tests.append(("held out: corrections test", corr["test"]))
    tests.append((f"latest {len(latest)} corrections", latest))

    parent_net = PartNet(len(labels))
    parent_net.load_state_dict(net.state_dict())
    parent_net.eval()

    net = finetune(args, net, pool, n_replay, mean, std)

    if args.keep_thresholds or len(val) == 0:
        thresholds = (parent_thresholds["passBelow"], parent_thresholds["failAtOrAbove"])
        how = "kept from the parent"
    else:
        val_probs, _ = train.predict(net, val, mean, std)
        thresholds = train.choose_thresholds(train.defect_scores(val_probs, good), val.targets != good)
        how = f"chosen on {len(val)} validation samples"
    parent_pair = (parent_thresholds["passBelow"], parent_thresholds["failAtOrAbove"])
    log(f"thresholds {how}: passBelow {thresholds[0]}, failAtOrAbove {thresholds[1]} (parent {parent_pair[0]}, {parent_pair[1]})")

    results = []
    for name, samples in tests:
        p = measure(parent_net, samples, labels, good, parent_pair, mean, std)
        c = measure(net, samples, labels, good, thresholds, mean, std)
        results.append((name, p, c))
        if p and c:
            log(f"{name}: {len(samples)} parts; accuracy {pct(p['accuracy'])} -> {pct(c['accuracy'])}, escapes {p['escapes']} -> {c['escapes']} of {c['defective']}, good failed {p['goodScrapped']} -> {c['goodScrapped']} of {c['good']}")
        else:
            log(f"{name}: no parts")

    seconds = time.time() - started
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    publish.export_onnx(net, onnx_path, {"width": spec["width"], "height": spec["height"]})
    with open(onnx_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    version = args.version or next_version(manifest["version"])
    counts = {
        "replayPool": n_replay,
        "replayPerEpoch": min(args.replay, n_replay),
        "correctionsTrain": len(corr_train),
        "correctionsWeight": args.corrections_weight,
        "val": len(val),
        "test": {name: len(s) for name, s in tests},
        "dropped": dropped,
    }
    headline = next((c for name, _, c in results if name.startswith("latest") and c), None) or next((c for _, _, c in results if c), None)
    write_candidate(args, manifest, version, parent_ref, meta, counts, mean_list, std_list, thresholds, how, results, headline, seconds, sha)
    summary = {
        "out": args.out,
        "id": manifest["id"],
        "version": version,
        "sha256": sha,
        "parent": parent_ref,
        "thresholds": {"passBelow": thresholds[0], "failAtOrAbove": thresholds[1]},
        "counts": counts,
        "evaluation": [{"set": name, "parent": p, "candidate": c} for name, p, c in results],
        "seconds": round(seconds, 1),
    }
    log(f"wrote {args.out}: {manifest['id']}@{version} sha256 {sha[:12]} in {seconds:.0f} s")
    print(json.dumps(summary))


def write_candidate(args, parent, version, parent_ref, meta, counts, mean, std, thresholds, how, results, headline, seconds, sha):
    """model.json through publish.write_package (one definition of the manifest), then what a fine-tune adds, and its own card."""
    source = meta.get("source", "") if meta else ""
    publish.write_package(
        args.out,
        meta={"width": parent["input"]["width"], "height": parent["input"]["height"], "labels": parent["labels"], "source": source},
        counts={"train": counts["replayPerEpoch"] + counts["correctionsTrain"], "val": counts["val"], "test": sum(counts["test"].values())},
        mean=mean,
        std=std,
        thresholds=thresholds,
        metrics=headline or {"accuracy": 0, "defectRecall": 0, "falseRejectRate": 0, "reviewShare": 0, "confidentVerdictAccuracy": 0, "count": 0, "perClassRecall": {}, "confidentClassAccuracy": 0, "escapes": 0, "goodScrapped": 0, "defective": 0, "good": 0},
        command=args.command or " ".join(sys.argv),
        seconds=seconds,
        threads=args.threads,
        epochs=args.epochs,
        review_budget=train.REVIEW_BUDGET,
    )
    path = os.path.join(args.out, "model.json")
    with open(path) as f:
        manifest = json.load(f)
    data = (
        f"fine-tuned from {parent_ref}: {counts['correctionsTrain']} operator corrections (each seen {counts['correctionsWeight']} times per epoch) "
        f"and {counts['replayPerEpoch']} of {counts['replayPool']} original training samples drawn afresh per epoch"
    )
    metrics = dict(manifest["provenance"].get("metrics", {}))
    for name, _, c in results:
        if c:
            key = "latestCorrections" if name.startswith("latest") else re.sub(r"[^A-Za-z0-9]+", "_", name.replace("held out: ", "")).strip("_")
            metrics[f"{key}.escapes"] = c["escapes"]
            metrics[f"{key}.parts"] = c["count"]
    manifest.update(
        id=parent["id"],
        version=version,
        description=parent.get("description", ""),
    )
    manifest["provenance"] = {**manifest["provenance"], "parent": parent_ref, "trainingData": data, "metrics": metrics}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    rows = "\n".join(figures_row(name, p, c) for name, p, c in results)
    dropped = ", ".join(f"{k} ({v})" for k, v in counts["dropped"].items()) or "none"
    card = f"""# {parent['id']} {version}

Fine-tuned from **{parent_ref}**, from operator corrections collected on
the line. Same network, inputs, outputs and labels as the parent
(`{'`, `'.join(parent['labels'])}`); only the weights and the suggested
thresholds changed. The parent's card describes the model and its intended use.

## Data

- {counts['correctionsTrain']} operator corrections from the train split of the corrections dataset,
  each seen {counts['correctionsWeight']} times per epoch.
- {counts['replayPerEpoch']} samples per epoch, drawn afresh from {counts['replayPool']} original training samples,
  so the model keeps what it knew.
- Validation: {counts['val']} samples (thresholds). Samples left out for a label the parent does not know: {dropped}.

## Training

{args.epochs} epochs, AdamW, one-cycle learning rate up to {args.lr}, batch {args.batch}, seed {args.seed},
{args.threads} CPU threads, {seconds / 60:.1f} min including evaluation. Batch norms stay frozen (they
arrive folded into the convolutions of the parent's ONNX graph).

```
{args.command or ' '.join(sys.argv)}
```

## Figures, parent / this model

Thresholds {how}: `passBelow` {thresholds[0]}, `failAtOrAbove` {thresholds[1]}
(the parent runs with its own). Escapes are defective parts passed; neither model trained on any of these parts.

| set | parts | accuracy | escapes | good parts failed | sent to review |
| --- | --- | --- | --- | --- | --- |
{rows}

"Latest corrections" are the newest operator decisions that were held out
of training (the corrections' val and test splits): what the line shows now.
Operators see the parts the model was unsure of and audit samples, so these
parts are harder than the line's average.

## Hash

`model.onnx` sha256 `{sha}`. The gateway refuses the package if the file it receives does not match.

## Before it goes on the line

Register it on the gateway (`POST /api/models/<station>/packages`, or over MQTT), run it in
shadow beside the active model, read the shadow report, then promote. Rolling back is one action.
See docs/model-lifecycle.md.
"""
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write(card)


if __name__ == "__main__":
    main()
