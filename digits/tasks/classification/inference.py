"""A classifier at work: Classify One's answer (the top classes, and if asked what each layer
made of the image and where the network looked), and what Classify Many and Top N collect
(top-1/top-5 accuracy where images are labelled, per class, a confusion matrix, and each
class's most confident images)."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from digits.models import inference
from digits.models.classify import inside_the_network, network_view
from digits.models.classify_many import Item, has_list, read_list, read_upload
from digits.models.layer_views import png_data_uri


def answer_one(model: inference.LoadedModel, pixels: np.ndarray, probabilities, payload) -> dict:
    # Full precision, best first: what the exported model and scripts must reproduce.
    scores = inference.top_scores(probabilities, model.info.labels)
    answer: dict[str, Any] = {"predictions": inference.as_percentages(scores), "scores": scores}
    if payload.get("visualizations"):
        answer |= inside_the_network(model, pixels, int(np.argmax(probabilities)))
    return answer


def read_items(ctx, labels: list[str], folder_text: str) -> tuple[list[Item], list[dict]]:
    """A list of `path [label]` lines, or an archive whose folders name the classes."""
    if has_list(ctx):
        return read_list(ctx, labels, folder_text)
    return read_upload(ctx, labels), []


class Tally:
    """What the results page shows, gathered batch by batch."""

    def __init__(self, model: inference.LoadedModel, options, max_pixels: int):
        self.model = model
        self.labels = labels = model.info.labels
        self.top_n = options.top_n
        self.max_pixels = max_pixels
        self.confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
        self.top1 = self.top5 = self.labelled = 0
        self.rows: list[dict[str, Any]] = []
        # Per class, the top_n images most confidently put in it: (probability, order, item).
        self.best: list[list[tuple[float, int, Item]]] = [[] for _ in labels]

    def add(self, item: Item, probabilities: np.ndarray) -> None:
        order = len(self.rows)
        predictions = inference.top_predictions(probabilities, self.labels)
        self.rows.append({"path": item.shown, "label": item.label, "predictions": predictions})
        for index, best in enumerate(self.best):
            entry = (float(probabilities[index]), -order, item)
            if len(best) < self.top_n:
                heapq.heappush(best, entry)
            elif entry[:2] > best[0][:2]:
                heapq.heapreplace(best, entry)
        if item.label is not None:
            ranked = np.argsort(-probabilities, kind="stable")
            self.confusion[item.label, ranked[0]] += 1
            self.top1 += int(ranked[0] == item.label)
            self.top5 += int(item.label in ranked[: inference.TOP_K])
            self.labelled += 1

    def summary(self) -> dict[str, Any]:
        model = self.model
        per_class = [
            {
                "label": label,
                "count": int(self.confusion[i].sum()),
                "top1": 100.0 * self.confusion[i, i] / max(1, self.confusion[i].sum()),
            }
            for i, label in enumerate(self.labels)
        ]
        return {
            "labels": self.labels,
            "epoch": model.info.epoch,
            "classified": len(self.rows),
            "rows": self.rows,
            "accuracy": {
                "labelled": self.labelled,
                "top1": 100.0 * self.top1 / self.labelled,
                "top5": 100.0 * self.top5 / self.labelled,
            }
            if self.labelled
            else None,
            "per_class": per_class if self.labelled else None,
            "confusion": self.confusion.tolist() if self.labelled else None,
            "top_n": self._top_n(model),
        }

    def _top_n(self, model: inference.LoadedModel) -> list[dict[str, Any]]:
        """Each class's most confident images, best first, with the picture the network saw."""
        grid = []
        for label, best in zip(self.labels, self.best, strict=True):
            images_of_class = []
            for probability, _, item in sorted(best, key=lambda e: (-e[0], -e[1])):
                view = network_view(model.prepare(item.path, self.max_pixels), model.info)
                images_of_class.append(
                    {
                        "path": item.shown,
                        "percent": round(100 * probability, 2),
                        "image": png_data_uri(view),
                    }
                )
            grid.append({"label": label, "images": images_of_class})
        return grid
