"""The model form's fields, checked: DIGITS' names in, typed training options out.

Run at submission (a 400 naming each bad field) and again by the trainer, from the parameters
stored as submitted, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digits.forms import (
    Errors,
    FormErrors,
    add_error,
    choice_field,
    flag_field,
    float_field,
    group_field,
    int_field,
    is_whole_number,
    name_field,
    optional_int_field,
    text_field,
)
from digits.models import catalog
from digits.models.fields import (
    DEFAULT_BATCH,
    DIGITS_FRAMEWORKS,
    FIELDS,
    FINE_TUNING,
    FRAMEWORK,
    LR_STEPS,
    MAX_PROBES,
    NETWORK_BATCHES,
    default,
)
from digits.models.lr_policy import LRPolicy
from digits.models.published import IMAGENET, IMAGENET_FILES


@dataclass
class TrainingOptions:
    name: str
    dataset: str
    method: str
    group: str = ""  # the home page files the job under it
    network: str = "lenet"
    custom_network: str = ""
    previous_networks: str = ""
    previous_epoch: float | None = None
    epochs: int = default("train_epochs")
    snapshot_interval: float = default("snapshot_interval")
    val_interval: float = default("val_interval")
    seed: int | None = None
    batch_size: int = DEFAULT_BATCH
    batch_accumulation: int = default("batch_accumulation")
    solver: str = default("solver_type")
    learning_rate: float = default("learning_rate")
    lr_policy: LRPolicy = field(default_factory=LRPolicy)
    mean_mode: str = default("use_mean")
    crop_size: int | None = None
    shuffle: bool = default("shuffle")
    flip: str = default("aug_flip")
    quad_rotation: str = default("aug_quad_rot")
    rotation: float = default("aug_rot")
    scale: float = default("aug_scale")
    noise: float = default("aug_noise")
    hsv: tuple[float, float, float] | None = None
    gpus: list[int] = field(default_factory=list)
    gpu_count: int = default("select_gpu_count")
    # GPUs chosen by host (`select_gpus=node1:0,node2:1`): on several, a training across them.
    host_gpus: tuple[tuple[str, int], ...] = ()
    # Per-channel (x/255 - mean) / std after DIGITS' mean subtraction: how pretrained networks
    # expect their input (ImageNet's on 0..1 is the common case).
    normalize_mean: tuple[float, ...] | None = None
    normalize_std: tuple[float, ...] | None = None
    # Fine-tuning: the pretrained layers learn at lr x this, and not at all for freeze_epochs.
    pretrained_lr_mult: float = default("pretrained_lr_mult")
    freeze_epochs: float = default("freeze_epochs")

    # Data loading: decode the images once into memory ("auto": when they fit), and how many
    # loader processes decode them otherwise (None: picked for the host's cores).
    data_cache: str = default("data_cache")
    loader_workers: int | None = None
    # Batches each loader process prepares ahead (None: 4 on GPUs, which wait on nothing else,
    # 2 on the CPU, torch's default).
    loader_prefetch: int | None = None
    # torch.compile the network: slower first steps (it compiles), faster ones after.
    use_compile: bool = False
    # A standard network started from published weights ("imagenet"), or from scratch ("").
    pretrained_weights: str = ""
    # The input a pretrained network was made for, where the dataset's differs (blank: the
    # dataset's): stored grayscale is repeated to its channels, images resized to its size.
    network_channels: int | None = None
    network_height: int | None = None
    network_width: int | None = None

    @property
    def network_size(self) -> tuple[int, int] | None:
        if self.network_height and self.network_width:
            return self.network_height, self.network_width
        return None

    @property
    def starts_from(self) -> str | None:
        """The model whose weights a fine-tuning starts from."""
        return self.previous_networks if self.method in FINE_TUNING else None

    @property
    def pretrained(self) -> bool:
        """Whether training starts from learned weights (another model's, or published ones)."""
        return bool(self.starts_from or self.pretrained_weights)

    bf16: bool = default("use_bf16")
    loss: str = default("loss")  # a generic model's (LOSSES); a classifier's is cross-entropy
    # Stop when this many epochs pass without a better validation top-1 (a generic model's: a
    # lower validation loss); None: train every epoch.
    patience: float | None = None
    # A learning-rate range test instead of a training (digits.models.lr_finder): the lowest
    # and highest rates and the steps between them.
    find_lr: tuple[float, float, int] | None = None
    # The largest batch that fits instead of a training (digits.models.batch_finder).
    find_batch: bool = False
    # Probe images: the first N validation images, classified at every validation so the
    # model page shows how their top predictions move epoch by epoch (0: none).
    probe_images: int = default("probe_images")
    # Or the validation images the person picked, by their numbers on the dataset's Explore page.
    probe_records: tuple[int, ...] = ()
    # Or "hardest": the N the network gets most wrong at its first validation (PROBE_PICKS).
    probe_pick: str = default("probe_pick")
    keep_snapshots: int | None = None

    @property
    def probe_indexes(self) -> tuple[int, ...]:
        """The validation records the model follows from the start: those picked, else the
        first N (none while the hardest are still to be found)."""
        if self.probe_records:
            return self.probe_records
        return () if self.probe_pick == "hardest" else tuple(range(self.probe_images))


# The options read straight from a declared field: the option's name, the form's (DIGITS').
DECLARED = {
    "method": "method",
    "epochs": "train_epochs",
    "snapshot_interval": "snapshot_interval",
    "val_interval": "val_interval",
    "seed": "random_seed",
    "batch_size": "batch_size",
    "batch_accumulation": "batch_accumulation",
    "solver": "solver_type",
    "learning_rate": "learning_rate",
    "mean_mode": "use_mean",
    "crop_size": "crop_size",
    "shuffle": "shuffle",
    "flip": "aug_flip",
    "quad_rotation": "aug_quad_rot",
    "rotation": "aug_rot",
    "scale": "aug_scale",
    "noise": "aug_noise",
    "gpu_count": "select_gpu_count",
    "bf16": "use_bf16",
    "loss": "loss",
    "patience": "patience",
    "probe_images": "probe_images",
    "probe_pick": "probe_pick",
    "keep_snapshots": "snapshot_keep",
    "data_cache": "data_cache",
    "pretrained_lr_mult": "pretrained_lr_mult",
    "freeze_epochs": "freeze_epochs",
}


def split_list(text: str) -> list[str]:
    """Comma-separated values of a sweep field ("0.01, 0.001")."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_training_options(form: dict[str, Any]) -> TrainingOptions:
    """Check every field; raise FormErrors with all the problems at once."""
    errors: Errors = {}
    framework = text_field(form, "framework", FRAMEWORK).lower()
    if framework not in DIGITS_FRAMEWORKS:
        add_error(errors, "framework", f"one of {', '.join(DIGITS_FRAMEWORKS)}")
    options = TrainingOptions(
        name=name_field(form, "model_name", errors, "model"),
        group=group_field(form, errors),
        dataset=text_field(form, "dataset"),
        lr_policy=parse_lr_policy(form, errors),
        find_lr=_range_test(form, errors),
        find_batch=flag_field(form, "find_batch"),
        **{attribute: FIELDS[name].parse(form, errors) for attribute, name in DECLARED.items()},
    )
    options.batch_size = options.batch_size or DEFAULT_BATCH  # blank: see _network_fields
    options.patience = options.patience or None  # 0: never stop early
    if flag_field(form, "aug_hsv_use"):
        options.hsv = tuple(FIELDS[f"aug_hsv_{c}"].parse(form, errors) for c in "hsv")
    if not options.dataset:
        add_error(errors, "dataset", "choose the dataset to train on")
    _network_fields(form, options, errors)
    if options.method == "custom" and framework in ("caffe", "tensorflow"):
        add_error(
            errors,
            "custom_network",
            f"custom networks are PyTorch code here, not {framework}: "
            "Customize a standard network to start from its PyTorch code",
        )
    options.normalize_mean, options.normalize_std = parse_normalization(form, errors)
    if options.normalize_mean is not None:
        # A per-channel mean and std replace the dataset's mean, as torchvision's recipe has
        # it ((x/255 - mean) / std): subtracting both would shift every input twice.
        options.mean_mode = "none"
    options.gpus, options.host_gpus = _gpu_list(form, errors)
    options.probe_records = _probe_records(form, errors)
    if errors:
        raise FormErrors(errors)
    return options


def _probe_records(form, errors: Errors) -> tuple[int, ...]:
    """`probe_records`: validation image numbers, as the dataset's Explore page shows them."""
    text = text_field(form, "probe_records")
    parts = split_list(text)
    if not all(is_whole_number(part) for part in parts) or len(set(parts)) > MAX_PROBES:
        add_error(
            errors,
            "probe_records",
            f"at most {MAX_PROBES} validation image numbers (as Explore shows them), like 3, 17",
        )
        return ()
    return tuple(dict.fromkeys(int(part) for part in parts))


def _range_test(form, errors: Errors) -> tuple[float, float, int] | None:
    """A learning-rate range test's rates and steps, when `find_lr` asks for one."""
    if not flag_field(form, "find_lr"):
        return None
    low = float_field(form, "lr_min", 1e-7, errors, 0, 1e3, False)
    high = float_field(form, "lr_max", 10.0, errors, 0, 1e3, False)
    steps = int_field(form, "lr_steps", 100, errors, 10, 10_000)
    if low is not None and high is not None and low >= high:
        add_error(errors, "lr_max", "must be above lr_min")
    return (low or 1e-7, high or 10.0, steps or 100)


def _network_fields(form, options: TrainingOptions, errors: Errors) -> None:
    if options.method == "standard":
        options.network = text_field(form, "standard_networks", "lenet").lower()
        if options.network not in catalog.names():
            add_error(errors, "standard_networks", f"one of {', '.join(catalog.names())}")
        if not text_field(form, "batch_size"):
            options.batch_size = NETWORK_BATCHES.get(options.network, DEFAULT_BATCH)
        options.pretrained_weights = choice_field(
            form, "pretrained_weights", ("", IMAGENET), "", errors
        )
        if options.pretrained_weights and options.network not in IMAGENET_FILES:
            add_error(
                errors,
                "pretrained_weights",
                f"no published ImageNet weights for {options.network}; there are for "
                + ", ".join(IMAGENET_FILES),
            )
    elif options.method == "custom":
        options.custom_network = str(form.get("custom_network", "") or "")
        if "def network" not in options.custom_network:
            message = "define network(num_classes, channels, height, width) returning a module"
            add_error(errors, "custom_network", message)
    else:
        field_name = f"{options.method}_networks"  # previous_networks or pretrained_networks
        options.previous_networks = text_field(form, field_name)
        if not options.previous_networks:
            add_error(errors, field_name, "choose the model to start from")
        # DIGITS' form names the epoch `<model id>-snapshot` (0: its architecture, new weights).
        epoch_field = "previous_epoch"
        if not text_field(form, epoch_field) and text_field(
            form, f"{options.previous_networks}-snapshot"
        ):
            epoch_field = f"{options.previous_networks}-snapshot"
        if text_field(form, epoch_field):  # blank: the latest snapshot
            options.previous_epoch = float_field(form, epoch_field, None, errors, 0, 1e6)
    options.loader_workers = optional_int_field(form, "loader_workers", errors, 0, 64)
    options.loader_prefetch = optional_int_field(form, "loader_prefetch", errors, 1, 64)
    options.use_compile = flag_field(form, "use_compile", False)
    options.network_channels = optional_int_field(form, "network_channels", errors, 1, 4)
    options.network_height = optional_int_field(form, "network_height", errors, 1, 4096)
    options.network_width = optional_int_field(form, "network_width", errors, 1, 4096)
    if bool(options.network_height) != bool(options.network_width):
        add_error(errors, "network_height", "give network_height and network_width, or neither")


def parse_normalization(form, errors: Errors, channels: int | None = None):
    """`normalize_mean` and `normalize_std`: one number per channel (or one for all), on the
    0..1 pixel scale, both or neither; (None, None) when blank."""
    values = {}
    for name in ("normalize_mean", "normalize_std"):
        text = text_field(form, name)
        if not text:
            continue
        try:
            values[name] = tuple(float(part) for part in split_list(text))
        except ValueError:
            add_error(errors, name, "numbers separated by commas, like 0.485,0.456,0.406")
            continue
        count = len(values[name])
        if not values[name] or (channels and count not in (1, channels)) or count > 4:
            add_error(errors, name, "one number per channel, or one for all")
    if len(values) == 1:
        missing = ({"normalize_mean", "normalize_std"} - values.keys()).pop()
        add_error(errors, missing, "give both normalize_mean and normalize_std, or neither")
    std, mean = values.get("normalize_std"), values.get("normalize_mean")
    if std and any(not v > 0 for v in std):
        add_error(errors, "normalize_std", "every standard deviation must be above 0")
    if mean and std and len(mean) != len(std) and 1 not in (len(mean), len(std)):
        add_error(errors, "normalize_mean", "as many numbers as normalize_std (or one)")
    if len(values) < 2 or errors.keys() & {"normalize_mean", "normalize_std"}:
        return None, None
    return values["normalize_mean"], values["normalize_std"]


GPU_LIST = "GPU indexes (0,1), or host:index pairs (node1:0,node2:0)"


def _gpu_list(form, errors: Errors) -> tuple[list[int], tuple[tuple[str, int], ...]]:
    """The GPUs chosen by index (on any host that has them), or by host:index pairs."""
    values = (
        form.getlist("select_gpus") if hasattr(form, "getlist") else form.get("select_gpus", [])
    )
    if isinstance(values, str):
        values = split_list(values)
    values = [part for v in values for part in split_list(str(v))]
    single = text_field(form, "select_gpu")  # DIGITS' one-GPU choice: an index, or "next"
    if not values and single not in ("", "next"):
        values = [single]
    values = [v for v in values if v not in ("", "cpu")]
    if any(":" in v for v in values):
        return [], _host_gpus(values, errors)
    try:
        gpus = sorted({int(v) for v in values})
    except ValueError:
        add_error(errors, "select_gpus", GPU_LIST)
        return [], ()
    if any(g < 0 for g in gpus):
        add_error(errors, "select_gpus", GPU_LIST)
    return gpus, ()


def _host_gpus(values: list[str], errors: Errors) -> tuple[tuple[str, int], ...]:
    pairs = set()
    for value in values:
        host, _, index = value.rpartition(":")
        if not host or not is_whole_number(index):
            add_error(errors, "select_gpus", GPU_LIST)
            return ()
        pairs.add((host.strip(), int(index)))
    return tuple(sorted(pairs))


def parse_lr_policy(form, errors: Errors) -> LRPolicy:
    name = FIELDS["lr_policy"].parse(form, errors)

    def number(field_name: str) -> float:
        field = FIELDS[field_name]
        value = field.parse(form, errors)
        return field.default if value is None else value

    if name == "step":
        return LRPolicy(name, step=number("lr_step_size"), gamma=number("lr_step_gamma"))
    if name == "multistep":
        try:
            steps = tuple(
                float(v) for v in split_list(text_field(form, "lr_multistep_values", LR_STEPS))
            )
        except ValueError:
            add_error(errors, "lr_multistep_values", "percentages separated by commas, like 50,85")
            steps = LRPolicy().steps
        return LRPolicy(name, steps=steps, gamma=number("lr_multistep_gamma"))
    if name == "exp":
        return LRPolicy(name, gamma=number("lr_exp_gamma"))
    if name == "inv":
        return LRPolicy(name, gamma=number("lr_inv_gamma"), power=number("lr_inv_power"))
    if name == "poly":
        return LRPolicy(name, power=number("lr_poly_power"))
    if name == "sigmoid":
        return LRPolicy(name, step=number("lr_sigmoid_step"), gamma=number("lr_sigmoid_gamma"))
    return LRPolicy("fixed")


DEFAULT_TOP_N = 9


@dataclass
class InferenceOptions:
    """Classify Many and Top N: which model and snapshot, where relative paths start, how many
    images at most, and how many of each class's best to show."""

    model: str
    epoch: float | None
    image_folder: str
    limit: int | None
    top_n: int


def inference_model(parameters: dict[str, Any]) -> str | None:
    """The model a Classify Many or Top N run classifies with."""
    try:
        return parse_inference_options(parameters).model
    except FormErrors:
        return parameters.get("job_id") or None


def parse_inference_options(form: dict[str, Any]) -> InferenceOptions:
    """Check every field of a Classify Many job; raise FormErrors with all the problems."""
    errors: Errors = {}
    options = InferenceOptions(
        model=text_field(form, "job_id"),
        epoch=float_field(form, "snapshot_epoch", None, {}, 0, 1e9),
        image_folder=text_field(form, "image_folder"),
        limit=optional_int_field(form, "num_test_images", errors, 1, 10**9),
        top_n=int_field(form, "top_n", DEFAULT_TOP_N, errors, 1, 1000),
    )
    if not options.model:
        add_error(errors, "job_id", "choose the model to classify with")
    if errors:
        raise FormErrors(errors)
    return options
