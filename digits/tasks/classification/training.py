"""A classifier's loss (cross-entropy) and evaluation: loss, top-1 and top-5 over the whole
validation set, and the confusion matrix kept from the best validation."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from digits.files import write_json_atomically
from digits.models.distributed import all_sum, all_sum_tensor
from digits.models.layout import VAL_CONFUSION_FILE
from digits.tasks.training import Evaluation, TrainingContract


class TaskTraining(TrainingContract):
    @property
    def num_classes(self) -> int:
        return len(self.info.labels)

    def criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def random_labels(self, batch: int) -> torch.Tensor:
        return torch.randint(0, self.num_classes, (batch,))

    @torch.no_grad()
    def evaluate(self, model, loader, preprocess, autocast) -> Evaluation:
        """Loss and top-1/top-5 accuracy, summed across ranks, and the confusion matrix (rows:
        true class, columns: predicted)."""
        env, classes = self.env, self.num_classes
        loss_sum = top1 = top5 = count = 0.0
        criterion = nn.CrossEntropyLoss(reduction="sum")
        confusion = torch.zeros(classes * classes, dtype=torch.float64, device=env.device)
        for images, labels in loader:
            images = preprocess(images.to(env.device, non_blocking=True))
            labels = labels.to(env.device, non_blocking=True)
            with autocast():
                logits = model(images)
            loss_sum += float(criterion(logits.float(), labels))
            best = logits.topk(min(5, logits.shape[1]), dim=1).indices
            top1 += float((best[:, 0] == labels).sum())
            top5 += float((best == labels[:, None]).any(dim=1).sum())
            count += len(labels)
            cells = labels * classes + best[:, 0]
            confusion += torch.bincount(cells, minlength=classes * classes).double()
        loss_sum, top1, top5, count = all_sum([loss_sum, top1, top5, count], env)
        all_sum_tensor(confusion, env)
        figures = {
            "val_loss": loss_sum / count,
            "val_top1": 100 * top1 / count,
            "val_top5": 100 * top5 / count,
        }
        matrix = confusion.view(classes, classes).long().tolist()
        return Evaluation(figures, {"matrix": matrix})

    def keep_best(self, folder: Path, epoch: float, evaluation: Evaluation) -> None:
        """The validation set's confusion matrix at the best epoch so far, for the model page."""
        write_json_atomically(
            folder / VAL_CONFUSION_FILE, {"epoch": epoch, "matrix": evaluation.kept["matrix"]}
        )
