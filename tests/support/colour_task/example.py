#!/usr/bin/env python3
"""The brightness histogram of images, by the model of this archive: python example.py IMAGE..."""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

here = Path(__file__).parent
info = json.loads((here / "info.json").read_text())
model = torch.jit.load(str(here / "model.torchscript.pt"), map_location="cpu")
for path in sys.argv[1:]:
    image = Image.open(path).convert(info["image_mode"]).resize((info["width"], info["height"]))
    pixels = np.asarray(image, dtype=np.uint8).reshape(info["height"], info["width"], -1)
    batch = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
    with torch.no_grad():
        histogram = model(batch)[0].tolist()
    print(
        json.dumps({"path": path, "histogram": dict(zip(info["labels"], histogram, strict=True))})
    )
