"""Where a dataset job keeps its files, inside its job folder."""

LABELS = "labels.txt"
INFO = "info.json"
MEAN_NPY = "mean.npy"
MEAN_PNG = "mean.png"
LISTS = "lists"  # the text-file method's lists, copied in at submission
UPLOAD_ARCHIVE = "upload/archive"  # an uploaded archive of class folders
UPLOAD_IMAGES = "upload/images"  # ...and what it unpacked to


def database(split: str) -> str:
    return f"{split}_db"
