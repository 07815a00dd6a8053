"""Fine-tuning m3e-small's top layer(s) on the creator's intent labels (issue 17): does it lift macro-F1 to 0.70?

The same dev set, folds and label counts as benchmarks/learning.py (its `load_comments`, seed and split: each fold
holds back a quarter for scoring, the creator labels the first n of the rest in a random order). Every variant is
read the way the bot reads intents: `IntentDetector` (patterns, the creator's exact-text labels, then the head)
over a `PrototypeClassifier` trained on the shipped prototypes plus the creator's labels at CREATOR_LABEL_WEIGHT,
exactly as the Teacher trains it; only the sentence vectors change:

- `shipped`: the frozen m3e-small vectors (the Teacher's head; learning.py's random curve to the third decimal).
- `pool<i>+<j>…`: no training; the mean-pooled outputs of layers i, j … side by side (lower layers keep more of
  the wording; free, the forward pass computes them).
- `top<k>-<loss>[+p]`: a copy of the model's top k transformer layers (m3e-small has 4) fine-tuned on the creator's
  labels, run on the frozen hidden states below them, which the base model's forward pass computes anyway: the
  FAQ keeps the base vectors, the intent head gets the fine-tuned ones for k/4 of a forward pass more.
  Losses: `triplet` (sentence-transformers' BatchAllTripletLoss, cosine distance: SetFit's idea of pulling
  same-label comments together, with all the batch's triplets instead of sampled pairs) or `ce` (a cosine
  softmax head over the intents, trained with the layers and then dropped; the PrototypeClassifier reads the
  new vectors). `+p`: the prototypes are fine-tuned on too, not only the creator's labels.

Choices (loss, epochs, learning rate, layers) are made with `--select` on the labelled part only: per fold, the
first N labels split 3:1, fine-tuned on three quarters and scored on the fourth; the scoring quarter is never seen.

    python benchmarks/finetune_intents.py [--data ../shared/data/dev/intent_dev.jsonl] [--select]
           [--sizes 100 200 300 400] [--variants shipped top1-ce:4:1e-4 ...] [--threads 2]

A variant is `top<k>-<loss>[+p]:<epochs>:<lr>`. Prints macro-F1 / complaint recall per size (mean of the folds, ± their
spread), training time (wall and CPU) and the extra inference cost per comment against a full forward pass.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

from _common import REPO, Row, percentiles, print_table
from learning import DEFAULT_DATA, load_comments
from sentence_transformers.sentence_transformer.losses import BatchAllTripletLoss
from sentence_transformers.sentence_transformer.losses.batch_hard_triplet import BatchHardTripletLossDistanceFunction
from sklearn.metrics import f1_score, recall_score

import bot.learning.teacher as teaching
from bot.config import load_settings
from bot.knowledge import load_labelled_phrases
from retrieval.encoder import SentenceTransformerEncoder
from retrieval.intents import INTENTS, IntentDetector, PrototypeClassifier
from retrieval.text import normalize

LAYERS = 4  # m3e-small (uer/chinese_roberta_L-4_H-512)


# -- frozen features ------------------------------------------------------------------------------------------------
class FrozenStates:
    """Every text's token states at the input of each transformer layer and its shipped sentence vector, computed
    once with the base model (the fine-tuned layers only ever see these)."""

    def __init__(self, encoder: SentenceTransformerEncoder, texts: list[str]) -> None:
        module = encoder._model[0]
        self.bert = module.auto_model
        self.tokenizer = module.tokenizer
        self.max_length = encoder._model.max_seq_length
        self.index = {t: i for i, t in enumerate(texts)}
        self.states: list[list[torch.Tensor]] = [[] for _ in range(LAYERS + 1)]  # [layer input][text] → (tokens, 512)
        self.vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
        self.bert.eval()
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                batch = texts[start : start + 64]
                tokens = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                hidden = self.bert(**tokens, output_hidden_states=True).hidden_states
                lengths = tokens["attention_mask"].sum(1).tolist()
                for layer in range(LAYERS + 1):
                    self.states[layer] += [hidden[layer][i, :n].clone() for i, n in enumerate(lengths)]
                self.vectors[start : start + len(batch)] = F.normalize(_mean(hidden[-1], tokens["attention_mask"]), dim=1).numpy()

    def batch(self, texts: list[str], below: int) -> dict[str, torch.Tensor]:
        """Padded token states at the input of layer `below` (0-based) and the attention mask."""
        rows = [self.states[below][self.index[t]] for t in texts]
        width = max(len(r) for r in rows)
        hidden = torch.zeros(len(rows), width, rows[0].shape[1])
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            hidden[i, : len(r)], mask[i, : len(r)] = r, 1
        return {"hidden": hidden, "attention_mask": mask}


    def pooled(self, texts: list[str], layers: tuple[int, ...]) -> np.ndarray:
        """Each layer's output mean-pooled and L2-normalised, side by side (scaled to unit length overall)."""
        parts = [F.normalize(torch.stack([self.states[layer][self.index[t]].mean(0) for t in texts]), dim=1) for layer in layers]
        return (torch.cat(parts, dim=1) / len(layers) ** 0.5).numpy()


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class TopLayers(nn.Module):
    """A trainable copy of the base model's top k layers + mean pooling, on the frozen states below them. Its
    output is a sentence-transformers features dict, so sentence-transformers' losses take it as the model."""

    def __init__(self, bert, k: int) -> None:
        super().__init__()
        self.k = k
        self.layers = nn.ModuleList(copy.deepcopy(bert.encoder.layer[LAYERS - k :]))

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hidden, mask = features["hidden"], features["attention_mask"]
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        return {"sentence_embedding": _mean(hidden, mask)}

    def encode(self, frozen: FrozenStates, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                features = frozen.batch(texts[start : start + batch_size], LAYERS - self.k)
                out.append(F.normalize(self(features)["sentence_embedding"], dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 512), dtype=np.float32)


@dataclass(frozen=True)
class Variant:
    name: str
    layers: int = 0  # 0: the shipped, frozen vectors
    loss: str = ""
    epochs: int = 0
    lr: float = 0.0
    prototypes: bool = False  # the prototypes join the creator's labels in the fine-tuning (at weight 1, not only the head)
    pooled: tuple[int, ...] = ()  # no training: the mean-pooled outputs of these layers side by side


    @classmethod
    def parse(cls, spec: str) -> Variant:
        if spec == "shipped":
            return cls("shipped")
        if spec.startswith("pool"):
            return cls(spec, pooled=tuple(int(n) for n in spec.removeprefix("pool").split("+")))
        head, epochs, lr = spec.split(":")
        top, loss = head.split("-")
        return cls(spec, int(top.removeprefix("top")), loss.removesuffix("+p"), int(epochs), float(lr), loss.endswith("+p"))


def finetune(frozen: FrozenStates, texts: list[str], labels: list[str], variant: Variant, seed: int) -> TopLayers:
    """The top layers trained on (text, intent) pairs; batches of 32 in a new random order each epoch."""
    torch.manual_seed(seed)
    top = TopLayers(frozen.bert, variant.layers)
    codes = torch.tensor([INTENTS.index(label) for label in labels])
    params = list(top.parameters())
    if variant.loss == "ce":
        head = nn.Linear(top.layers[-1].output.dense.out_features, len(INTENTS), bias=False)
        params += list(head.parameters())
    elif variant.loss == "triplet":
        loss_fn = BatchAllTripletLoss(top, distance_metric=BatchHardTripletLossDistanceFunction.cosine_distance, margin=0.3)
    else:
        raise ValueError(f"unknown loss {variant.loss!r}")
    optimizer = torch.optim.AdamW(params, lr=variant.lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    top.train()
    for _ in range(variant.epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            features = frozen.batch([texts[i] for i in idx], LAYERS - variant.layers)
            if variant.loss == "ce":
                embedded = F.normalize(top(features)["sentence_embedding"], dim=1)
                loss = F.cross_entropy(20.0 * embedded @ F.normalize(head.weight, dim=1).T, codes[idx])
            else:
                loss = loss_fn([features], codes[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return top


# -- scoring as the bot reads intents -------------------------------------------------------------------------------
@dataclass
class Scored:
    f1: float
    complaint: float
    wall: float = 0.0
    cpu: float = 0.0


def score(frozen: FrozenStates, prototypes: tuple[list[str], list[str]], labelled: list[tuple[str, str]],
          held: list[tuple[str, str]], variant: Variant, seed: int) -> Scored:
    """Train (fine-tune, then the Teacher's head) on prototypes + `labelled`, read `held` as IntentDetector does."""
    proto_texts, proto_labels = prototypes
    texts, labels = [t for t, _ in labelled], [label for _, label in labelled]
    wall, cpu = time.perf_counter(), time.process_time()
    if variant.layers:
        tuned = (proto_texts + texts, proto_labels + labels) if variant.prototypes else (texts, labels)
        top = finetune(frozen, *tuned, variant, seed)
        vectors = top.encode(frozen, proto_texts + texts + [t for t, _ in held])
    elif variant.pooled:
        vectors = frozen.pooled(proto_texts + texts + [t for t, _ in held], variant.pooled)
    else:
        vectors = frozen.vectors[[frozen.index[t] for t in proto_texts + texts + [t for t, _ in held]]]
    train = len(proto_texts) + len(texts)
    head = PrototypeClassifier.train(vectors[:train], proto_texts + texts, proto_labels + labels,
                                     weights=[1.0] * len(proto_texts) + [teaching.CREATOR_LABEL_WEIGHT] * len(texts))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    detector = IntentDetector(head, head, known=dict(labelled))
    normalized = [normalize(t) for t, _ in held]
    predicted = [intent.intent for intent, _ in detector.detect(normalized, vectors[train:])]
    truth = [label for _, label in held]
    return Scored(float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)),
                  float(recall_score(truth, predicted, labels=["complaint"], average="macro", zero_division=0)), wall, cpu)


def folds(rows: list[dict], count: int, seed: int):
    """learning.py's split: per fold, the held-back quarter and the rest in the order the creator labels it."""
    for fold in range(count):
        order = np.random.default_rng(seed + fold).permutation(len(rows))
        yield fold, order[: len(rows) // 4], order[len(rows) // 4 :]


def pairs(rows: list[dict], positions) -> list[tuple[str, str]]:
    return [(normalize(rows[i]["text"]).plain, rows[i]["intent"]) for i in positions]


def curve(frozen, prototypes, rows, variants, sizes, fold_count, seed) -> list[Row]:
    table = []
    for variant in variants:
        results = {n: [score(frozen, prototypes, pairs(rows, pool[:n]), pairs(rows, held), variant, seed + fold)
                       for fold, held, pool in folds(rows, fold_count, seed)] for n in sizes}
        for n, scored in results.items():
            f1 = [s.f1 for s in scored]
            table.append(Row(f"{variant.name}: macro-F1 / complaint recall", f"{n} labels",
                             f"{np.mean(f1):.3f} ±{np.std(f1):.3f} / {np.mean([s.complaint for s in scored]):.3f}",
                             "≥ 0.70 / ≥ 0.70 at ~300",
                             f"train {np.mean([s.wall for s in scored]):.1f} s wall, {np.mean([s.cpu for s in scored]):.1f} s CPU"))
        print_table(f"Intent macro-F1, {variant.name} ({len(rows)} real comments, {fold_count} folds, a quarter held out each)",
                    table[-len(sizes):])
    return table


def select(frozen, prototypes, rows, variants, size, fold_count, seed) -> list[Row]:
    """Each variant on the labelled part only: the first `size` labels of each fold split 3:1 (inner validation)."""
    table = []
    for variant in variants:
        scored = []
        for fold, _, pool in folds(rows, fold_count, seed):
            labelled = pool[:size]
            cut = len(labelled) * 3 // 4
            scored.append(score(frozen, prototypes, pairs(rows, labelled[:cut]), pairs(rows, labelled[cut:]), variant, seed + fold))
        f1 = [s.f1 for s in scored]
        table.append(Row(f"{variant.name}: inner macro-F1 / complaint recall", f"{size * 3 // 4} + {size - size * 3 // 4}",
                         f"{np.mean(f1):.3f} ±{np.std(f1):.3f} / {np.mean([s.complaint for s in scored]):.3f}", "",
                         f"train {np.mean([s.wall for s in scored]):.1f} s wall, {np.mean([s.cpu for s in scored]):.1f} s CPU"))
        print(table[-1], flush=True)
    return table


def inference_cost(encoder: SentenceTransformerEncoder, frozen: FrozenStates, texts: list[str], layers: list[int]) -> list[Row]:
    """Per comment: a full forward pass (the encoder as the bot calls it) against k layers on the frozen states,
    one comment at a time on one thread (`ask`) and in batches of 32 (`route`)."""
    table = []
    model = encoder._model

    def timed(run, batches) -> tuple[list[float], float]:
        walls, cpu = [], time.process_time()
        for batch in batches:
            start = time.perf_counter()
            run(batch)
            walls.append(time.perf_counter() - start)
        return walls, time.process_time() - cpu

    singles = [[t] for t in texts[:200]]
    thirty_twos = [texts[i : i + 32] for i in range(0, len(texts), 32)]
    previous = torch.get_num_threads()
    for label, batches, threads in (("one comment, 1 thread", singles, 1), ("batches of 32", thirty_twos, previous)):
        torch.set_num_threads(threads)
        full, full_cpu = timed(lambda b: model.encode(b, batch_size=len(b), normalize_embeddings=True, show_progress_bar=False), batches)
        count = sum(len(b) for b in batches)
        base = f"{percentiles(full)[0] * 1000:.2f} ms p50" if len(batches[0]) == 1 else f"{sum(full) / count * 1000:.3f} ms/comment"
        table.append(Row(f"full forward pass (4 layers), {label}", f"{count} comments", base, "",
                         f"CPU {full_cpu / count * 1000:.3f} ms/comment"))
        for k in layers:
            top = TopLayers(frozen.bert, k).eval()

            def run(batch, top=top, k=k):
                with torch.inference_mode():
                    top(frozen.batch(batch, LAYERS - k))

            extra, extra_cpu = timed(run, batches)
            value = f"{percentiles(extra)[0] * 1000:.2f} ms p50" if len(batches[0]) == 1 else f"{sum(extra) / count * 1000:.3f} ms/comment"
            table.append(Row(f"extra: top {k} layer(s) on the frozen states, {label}", f"{count} comments", value, "",
                             f"{sum(extra) / sum(full):.2f}× the full pass; CPU {extra_cpu / count * 1000:.3f} ms/comment"))
        torch.set_num_threads(previous)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="intent_dev.jsonl (id, text, intent, note)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 300, 400])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--variants", nargs="+", default=["shipped", "top2-triplet:4:1e-4"])
    parser.add_argument("--select", action="store_true", help="score the variants on an inner split of the first "
                        "--select-size labels only (for choosing), not on the held-back quarter")
    parser.add_argument("--select-size", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training (the machine's cores)")
    parser.add_argument("--cost", action="store_true", help="also time the extra inference per comment")
    parser.add_argument("--cost-only", action="store_true", help="only time the extra inference per comment")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data}: not found (the dev set is not part of the repository; pass --data)")
    torch.set_num_threads(args.threads)
    rows = load_comments(args.data)
    settings = load_settings(REPO / "config" / "coursebot.toml")
    encoder = SentenceTransformerEncoder(settings.model.path)
    proto_texts, proto_labels = IntentDetector.training_set(load_labelled_phrases(settings.catalog.intents, "intents", INTENTS))
    proto_texts = [normalize(t).plain for t in proto_texts]
    comments = [normalize(r["text"]).plain for r in rows]
    start = time.perf_counter()
    frozen = FrozenStates(encoder, list(dict.fromkeys(proto_texts + comments)))
    shipped = encoder.encode(comments[:64])
    drift = float(np.abs(shipped - frozen.vectors[[frozen.index[t] for t in comments[:64]]]).max())
    print(f"frozen states of {len(frozen.index)} texts in {time.perf_counter() - start:.1f} s; "
          f"largest difference from the encoder's own vectors {drift:.1e}", flush=True)
    variants = [Variant.parse(v) for v in args.variants]
    if args.cost_only:
        args.cost = True
    elif args.select:
        print_table(f"Inner validation ({args.select_size} labels per fold split 3:1; the scoring quarter unseen)",
                    select(frozen, (proto_texts, proto_labels), rows, variants, args.select_size, args.folds, args.seed))
    else:
        curve(frozen, (proto_texts, proto_labels), rows, variants, args.sizes, args.folds, args.seed)
    if args.cost:
        print_table("Extra inference cost per comment", inference_cost(encoder, frozen, comments, [1, 2]))


if __name__ == "__main__":
    main()
