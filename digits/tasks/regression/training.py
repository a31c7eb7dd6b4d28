"""A generic model's loss (L2, L1 or Huber between its outputs and the dataset's values) and
evaluation: loss, mean squared and absolute error, and each output's absolute error."""

from __future__ import annotations

import torch
from torch import nn

from digits.datasets import targets
from digits.models.distributed import all_sum, all_sum_tensor
from digits.tasks.training import Evaluation, TrainingContract

LOSSES = {"l2": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}


class TaskTraining(TrainingContract):
    def __init__(self, dataset_folder, info, options, env):
        super().__init__(dataset_folder, info, options, env)
        # Each split's target table on the device: a record's label is its row.
        self.tables = {}
        for split in ("train", "val"):
            values = targets.load_targets(dataset_folder, split)
            if values is not None:
                self.tables[split] = torch.from_numpy(values).float().to(env.device)

    def criterion(self) -> nn.Module:
        return LOSSES[self.options.loss]()

    def batch_targets(self, images, labels, split):
        return self.tables[split][labels.to(self.env.device, non_blocking=True)]

    def random_labels(self, batch: int) -> torch.Tensor:
        return torch.randint(0, len(self.tables["train"]), (batch,))

    @torch.no_grad()
    def evaluate(self, model, loader, preprocess, autocast) -> Evaluation:
        env, names = self.env, self.info.outputs
        criterion = LOSSES[self.options.loss](reduction="sum")
        width = len(names)
        squared = torch.zeros(width, dtype=torch.float64, device=env.device)
        absolute = torch.zeros(width, dtype=torch.float64, device=env.device)
        loss_sum = count = 0.0
        for images, rows in loader:
            wanted = self.batch_targets(images, rows, "val")
            images = preprocess(images.to(env.device, non_blocking=True))
            with autocast():
                outputs = model(images).float()
            loss_sum += float(criterion(outputs, wanted))
            error = (outputs - wanted).double()
            squared += (error**2).sum(dim=0)
            absolute += error.abs().sum(dim=0)
            count += len(rows)
        loss_sum, count = all_sum([loss_sum, count], env)
        all_sum_tensor(squared, env)
        all_sum_tensor(absolute, env)
        per_output = (absolute / count).tolist()
        return Evaluation(
            {
                "val_loss": loss_sum / (count * width),  # the mean over outputs, as training's
                "val_mse": float(squared.sum()) / (count * width),
                "val_mae": float(absolute.sum()) / (count * width),
                **{f"val_mae:{name}": value for name, value in zip(names, per_output, strict=True)},
            }
        )
