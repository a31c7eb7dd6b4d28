"""The stand-in task's answers: an image's histogram by band, and Infer Many's rows."""

from __future__ import annotations

from digits.models.classify_many import has_list, read_list, read_upload


def answer_one(model, pixels, histogram, payload) -> dict:
    return {"histogram": dict(zip(model.info.labels, map(float, histogram), strict=True))}


def read_items(ctx, labels, folder_text):
    if has_list(ctx):
        return read_list(ctx, [], folder_text)
    return read_upload(ctx, []), []


class Tally:
    def __init__(self, model, options, max_pixels):
        self.model, self.rows = model, []

    def add(self, item, histogram) -> None:
        bands = self.model.info.labels
        self.rows.append(
            {"path": item.shown, "histogram": dict(zip(bands, histogram.tolist(), strict=True))}
        )

    def summary(self) -> dict:
        return {"epoch": self.model.info.epoch, "classified": len(self.rows), "rows": self.rows}
