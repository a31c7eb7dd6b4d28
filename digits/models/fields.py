"""The New Model form's fields, each declared once: its name (DIGITS'), kind, default, bounds,
choices, title and placeholder. The options parser reads the form by them, the form page draws
them, a search ranges over them. Free of torch: the web process reads them.
"""

from __future__ import annotations

from digits.forms import Field
from digits.models.lr_policy import POLICIES

# The choices the form offers (kept here, free of torch, so the web server need not load it).
METHODS = {
    "standard": "Standard networks",
    "previous": "Previous networks",
    "pretrained": "Pretrained networks",
    "custom": "Custom network",
}
DATA_CACHES = {
    "auto": "In memory when the images fit, else read as they are needed",
    "ram": "In memory (decoded once)",
    "none": "Read as they are needed (loader processes decode them)",
}
# Methods that start from another model's weights (DIGITS' previous and pretrained networks).
FINE_TUNING = ("previous", "pretrained")
# Each choice and its title on the form (the form's lists come from here).
SOLVERS = {
    "SGD": "SGD",
    "NESTEROV": "Nesterov",
    "ADAGRAD": "AdaGrad",
    "RMSPROP": "RMSprop",
    "ADADELTA": "AdaDelta",
    "ADAM": "Adam",
    "ADAMW": "AdamW",
}
MEAN_MODES = {"image": "Image", "pixel": "Pixel", "none": "None"}
# A generic model's loss: what it minimizes between its outputs and the dataset's values.
LOSSES = {"l2": "L2 (mean squared error)", "l1": "L1 (mean absolute error)", "huber": "Huber"}
FLIPS = {"none": "None", "fliplr": "Horizontal", "flipud": "Vertical", "fliplrud": "Both"}
QUAD_ROTATIONS = {
    "none": "None",
    "rot90": "0 or 90°",
    "rot180": "0 or 180°",
    "rotall": "0, 90, 180 or 270°",
}
FRAMEWORK = "pytorch"
# What DIGITS' scripts send: a standard network trains here, with PyTorch, whichever they name.
DIGITS_FRAMEWORKS = ("pytorch", "torch", "caffe", "tensorflow")
DEFAULT_BATCH = 64
MAX_PROBES = 16  # probe images a model may follow
PROBE_PICKS = {
    "first": "The first validation images",
    "hardest": "The ones it gets most wrong at its first validation",
}
# A blank batch size is the standard network's own, as DIGITS' standard networks defined their
# training batch (LeNet 64, AlexNet 128, GoogLeNet 32); the large ones beyond DIGITS: 32.
NETWORK_BATCHES = {"alexnet": 128, "googlenet": 32, "resnet50": 32, "convnext_tiny": 32}

MIN_SNAPSHOT_INTERVAL = 0.01  # epochs


def _fields(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


FIELDS = _fields(
    Field("train_epochs", "int", 30, "Training epochs", 1, 100_000),
    # A snapshot every step would fill the disk: at most a hundred an epoch.
    Field("snapshot_interval", "float", 1.0, "Snapshot interval (epochs)", MIN_SNAPSHOT_INTERVAL),
    Field("val_interval", "float", 1.0, "Validation interval (epochs)", 0, low_inclusive=False),
    Field("random_seed", "int", None, "Random seed (blank: none)", 0, 2**31 - 1),
    Field(
        "batch_size",
        "int",
        None,  # blank: the standard network's own (NETWORK_BATCHES), else DEFAULT_BATCH
        "Batch size (all GPUs together; a comma list sweeps; blank: the network's own)",
        1,
        1_000_000,
        placeholder="LeNet 64, AlexNet 128, GoogLeNet 32",
        log_scale=True,
        sweeps=True,
    ),
    Field("batch_accumulation", "int", 1, "Batch accumulation", 1, 1024),
    Field("solver_type", "choice", "SGD", "Solver", choices=SOLVERS),
    Field(
        "learning_rate",
        "float",
        0.01,
        "Base learning rate (a comma list sweeps)",
        0,
        1e3,
        low_inclusive=False,
        log_scale=True,
        sweeps=True,
    ),
    Field("use_mean", "choice", "image", "Subtract mean", choices=MEAN_MODES),
    Field("crop_size", "int", None, "Crop size (blank: none)", 1, 4096),
    Field("shuffle", "flag", True, "Shuffle training data"),
    Field("aug_flip", "choice", "none", "Flipping", choices=FLIPS),
    Field("aug_quad_rot", "choice", "none", "Quadrilateral rotation", choices=QUAD_ROTATIONS),
    Field("aug_rot", "float", 0.0, "Rotation (± degrees)", 0, 180),
    Field("aug_scale", "float", 0.0, "Zoom in (up to this fraction)", 0, 0.9),
    Field("aug_noise", "float", 0.0, "Noise (standard deviation, fraction of 255)", 0, 1),
    Field("aug_hsv_h", "float", 0.02, "Hue shift (standard deviation)", 0, 0.5),
    Field("aug_hsv_s", "float", 0.04, "Saturation shift (standard deviation)", 0, 0.5),
    Field("aug_hsv_v", "float", 0.06, "Value shift (standard deviation)", 0, 0.5),
    Field("select_gpu_count", "int", 1, "Number of GPUs (on a CPU host: processes)", 1, 64),
    Field("use_bf16", "flag", True, "bf16 mixed precision on GPUs"),
    Field("loss", "choice", "l2", "Loss", choices=LOSSES),
    Field(
        "patience",
        "float",
        None,
        "Stop early after this many epochs without a better validation (blank: never)",
        0,
        100_000,
    ),
    Field(
        "probe_images",
        "int",
        4,
        "Probe images: follow this many validation images, epoch by epoch (0: none)",
        0,
        MAX_PROBES,
    ),
    Field("probe_pick", "choice", "first", "Which ones", choices=PROBE_PICKS),
    Field(
        "snapshot_keep",
        "int",
        None,
        "Keep only the last N snapshots and the best (blank: all)",
        1,
        10_000,
    ),
    Field("data_cache", "choice", "auto", "Images while training", choices=DATA_CACHES),
    Field("method", "choice", "standard", "Network", choices=METHODS),
    Field(
        "pretrained_lr_mult",
        "float",
        1.0,
        "Learning rate of the pretrained layers (× the base rate)",
        0,
        100,
        log_scale=True,
    ),
    Field(
        "freeze_epochs",
        "float",
        0.0,
        "Freeze the pretrained layers for the first epochs (all of them: a linear probe)",
        0,
        100_000,
    ),
    Field("lr_policy", "choice", "step", "Policy", choices=POLICIES),
    Field("lr_step_size", "float", 33.0, "Step size (%)", 0.0001, 100),
    Field("lr_step_gamma", "float", 0.1, "Gamma", log_scale=True),
    Field("lr_multistep_gamma", "float", 0.5, "Gamma"),
    Field("lr_exp_gamma", "float", 0.95, "Gamma"),
    Field("lr_inv_gamma", "float", 0.1, "Gamma"),
    Field("lr_inv_power", "float", 0.5, "Power"),
    Field("lr_poly_power", "float", 3.0, "Power"),
    Field("lr_sigmoid_step", "float", 50.0, "Step (%)", 0, 100),
    Field("lr_sigmoid_gamma", "float", 0.1, "Gamma", -1e6),
)
LR_STEPS = "50,85"  # lr_multistep_values' default: percentages, a list


def default(name: str):
    """A field's default, where a dataclass or another reader needs it too."""
    return FIELDS[name].default
