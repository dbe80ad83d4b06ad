"""
Trains the demo part model on a dataset written by scripts/make-dataset.ts,
evaluates it on the held-out test split and publishes an ONNX model package.

    /usr/bin/python3 models/training/train.py --data models/training/.cache/dataset --out models/demo-part

Needs torch and numpy, and onnx for the graph check. No image library: the
dataset is raw pixels already resized exactly as the gateway resizes.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import dataset
import publish
from model import PartNet


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset folder with train/, val/, test/")
    p.add_argument("--out", required=True, help="model package folder to write")
    p.add_argument("--epochs", type=int, default=22)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--heat-weight", type=float, default=1.0, help="weight of the heat-map loss")
    p.add_argument("--command", default="", help="command line recorded in model.json and the card")
    return p.parse_args()


def to_tensor(images, mean, std):
    """uint8 NHWC -> normalised float NCHW, the same arithmetic the gateway applies from model.json."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().mul_(1 / 255)
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    # NHWC in memory is what oneDNN convolutions run fastest on.
    return x.contiguous(memory_format=torch.channels_last)


def augment(x, m, gen):
    """Flips, quarter turns and a little brightness: the part may lie any way up under slightly varying light."""
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x, m = torch.rot90(x, k, (2, 3)), torch.rot90(m, k, (2, 3))
    if torch.rand(1, generator=gen) < 0.5:
        x, m = x.flip(3), m.flip(3)
    gain = 1 + (torch.rand(x.shape[0], 1, 1, 1, generator=gen) - 0.5) * 0.16
    return x * gain, m


def predict(net, split, mean, std, batch=256):
    """Softmax probabilities (N x classes) and heat maps (N x h x w, 0..1)."""
    net.eval()
    probs, heats = [], []
    with torch.no_grad():
        for i in range(0, len(split), batch):
            logits, heat = net(to_tensor(split.images[i : i + batch], mean, std))
            probs.append(F.softmax(logits, dim=1).numpy())
            heats.append(torch.sigmoid(heat)[:, 0].numpy())
    return np.concatenate(probs), np.concatenate(heats)


def train(args, splits, mean, std):
    train_split, val_split = splits["train"], splits["val"]
    classes = len(train_split.labels)
    net = PartNet(classes).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(train_split) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(args.seed)
    targets = torch.from_numpy(train_split.targets)
    masks = torch.from_numpy(train_split.masks).float().div_(255).unsqueeze(1)
    has_mask = torch.from_numpy(train_split.has_mask)
    # Defect cells are a few percent of the map; weigh them up so the map does not learn "all clear".
    pos_weight = torch.tensor([10.0])
    for epoch in range(1, args.epochs + 1):
        net.train()
        t0 = time.time()
        order = torch.randperm(len(train_split), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            x = to_tensor(train_split.images[idx.numpy()], mean, std)
            x, m = augment(x, masks[idx], gen)
            logits, heat = net(x)
            loss = F.cross_entropy(logits, targets[idx])
            sel = has_mask[idx]
            if sel.any():
                heat_loss = F.binary_cross_entropy_with_logits(heat[sel], m[sel], pos_weight=pos_weight)
                loss = loss + args.heat_weight * heat_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
        probs, _ = predict(net, val_split, mean, std)
        val_acc = float((probs.argmax(1) == val_split.targets).mean())
        log(f"epoch {epoch}/{args.epochs}  loss {total / seen:.4f}  val accuracy {val_acc:.4f}  ({time.time() - t0:.1f} s)")
    return net


def defect_scores(probs, good):
    """The policy's defect score: 1 - P(good)."""
    return 1 - probs[:, good]


# Share of parts the operators can look at; the review band is sized to it.
REVIEW_BUDGET = 0.03
# What a wrong verdict costs: shipping a defective part is worse than scrapping a good one.
COST_ESCAPE = 10
COST_FALSE_FAIL = 3


def choose_thresholds(scores, is_defect):
    """
    (passBelow, failAtOrAbove) on a 0.01 grid: the review band that removes
    the costliest mistakes on the validation split while sending at most
    REVIEW_BUDGET of the parts to an operator. Between equally good bands the
    wider one wins, since reviews within the budget are paid for anyway.
    """
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    best = None
    for pass_below in grid:
        escapes = COST_ESCAPE * int((is_defect & (scores < pass_below)).sum())
        for fail_at in grid[grid >= pass_below]:
            review = float(((scores >= pass_below) & (scores < fail_at)).mean())
            if review > REVIEW_BUDGET:
                break
            key = (escapes + COST_FALSE_FAIL * int((~is_defect & (scores >= fail_at)).sum()), -review)
            if best is None or key < best[0]:
                best = (key, float(pass_below), float(fail_at))
    return best[1], best[2]


def share(flags):
    """Fraction of True in `flags`; 0 for an empty selection."""
    return float(flags.mean()) if flags.size else 0.0


def evaluate(probs, targets, labels, good, thresholds):
    pred = probs.argmax(1)
    is_defect = targets != good
    pred_defect = pred != good
    scores = defect_scores(probs, good)
    pass_below, fail_at = thresholds
    review = (scores >= pass_below) & (scores < fail_at)
    confident = ~review
    verdict_fail = scores >= fail_at
    per_class = {labels[c]: float((pred[targets == c] == c).mean()) for c in range(len(labels)) if (targets == c).any()}
    return {
        "count": int(len(targets)),
        "accuracy": float((pred == targets).mean()),
        "defectRecall": float(pred_defect[is_defect].mean()),
        "falseRejectRate": float(pred_defect[~is_defect].mean()),
        "perClassRecall": per_class,
        "reviewShare": float(review.mean()),
        "confidentVerdictAccuracy": share(verdict_fail[confident] == is_defect[confident]),
        "confidentClassAccuracy": share(pred[confident] == targets[confident]),
        "escapes": int((is_defect & (scores < pass_below)).sum()),
        "goodScrapped": int((~is_defect & verdict_fail).sum()),
        "defective": int(is_defect.sum()),
        "good": int((~is_defect).sum()),
    }


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()
    splits = dataset.load(args.data)
    labels = splits["train"].labels
    good = labels.index("good")
    pixels = splits["train"].images.reshape(-1, 3).astype(np.float64) / 255
    mean_list = [round(float(v), 3) for v in pixels.mean(0)]
    std_list = [round(float(v), 3) for v in pixels.std(0)]
    del pixels
    mean = torch.tensor(mean_list)
    std = torch.tensor(std_list)
    log(f"train {len(splits['train'])}, val {len(splits['val'])}, test {len(splits['test'])}; mean {mean_list} std {std_list}")

    net = train(args, splits, mean, std)

    val_probs, _ = predict(net, splits["val"], mean, std)
    val_defect = splits["val"].targets != good
    thresholds = choose_thresholds(defect_scores(val_probs, good), val_defect)
    test_probs, _ = predict(net, splits["test"], mean, std)
    metrics = evaluate(test_probs, splits["test"].targets, labels, good, thresholds)
    train_seconds = time.time() - started
    log(f"thresholds from val: passBelow {thresholds[0]}, failAtOrAbove {thresholds[1]}")
    for key, value in metrics.items():
        log(f"test {key}: {value}")
    log(f"training and evaluation took {train_seconds:.0f} s")

    os.makedirs(args.out, exist_ok=True)
    publish.export_onnx(net, os.path.join(args.out, "model.onnx"), splits["train"].meta)
    publish.write_package(
        args.out,
        meta=splits["train"].meta,
        counts={name: len(s) for name, s in splits.items()},
        mean=mean_list,
        std=std_list,
        thresholds=thresholds,
        metrics=metrics,
        command=args.command or " ".join(sys.argv),
        seconds=train_seconds,
        threads=args.threads,
        epochs=args.epochs,
        review_budget=REVIEW_BUDGET,
    )
    log(f"wrote {args.out}/model.onnx, model.json, MODEL_CARD.md")


if __name__ == "__main__":
    main()
