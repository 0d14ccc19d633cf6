"""Real photos of people that ship inside installed wheels (nothing is downloaded).

Used for parity inputs, quantisation calibration and the demo overlay. The boxes are person
boxes (COCO xywh) drawn by hand on these exact images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplePhoto:
    name: str
    box: tuple[float, float, float, float]

    def load(self) -> np.ndarray:
        """HxWx3 uint8 RGB."""
        if self.name == "astronaut":
            import skimage.data

            return np.ascontiguousarray(skimage.data.astronaut())
        if self.name == "grace_hopper":
            import matplotlib.cbook
            from PIL import Image

            with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
                return np.asarray(Image.open(f).convert("RGB"))
        raise KeyError(self.name)


SAMPLE_PHOTOS = (
    SamplePhoto("astronaut", (20.0, 10.0, 350.0, 502.0)),
    SamplePhoto("grace_hopper", (10.0, 20.0, 500.0, 580.0)),
)
