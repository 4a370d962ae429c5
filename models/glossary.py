"""What the app's terms mean, in a sentence or two each (Qt-free): the window shows these
as tooltips wherever a term appears, so a newcomer is never left with a bare word."""
from __future__ import annotations

import re

TERMS = {
    "adaptive": ("Adaptive atlas (stride {stride}): the classifier first labels a coarse grid, every {stride}th "
                 "cell along each axis; a block whose corners disagree is split and labelled finer, down to "
                 "single cells, and a block whose corners agree takes their digit without evaluating its inside. "
                 "Much faster than labelling every cell; thin regions inside an agreeing block can be missed."),
    "full": "Full atlas: the classifier labelled the image at the centre of every cell of the grid.",
    "weak judge": ("Weak judge accuracy: a logistic regression on raw pixels trained to tell real MNIST images from "
                   "generated ones, measured on held-out images. 0.5 means it cannot tell them apart (good); "
                   "1.0 means the generated images are easy to spot."),
    "strong judge error": ("Strong judge error: the held-out error of a small CNN trained to tell real MNIST images "
                           "from this generator's. 0.5 means it cannot tell them apart (best); near 0 means the "
                           "generated images are easy to spot."),
    "lerp": ("Straight (lerp, linear interpolation): the point moves along the straight line from A to B at a "
             "constant speed; it never leaves the box."),
    "slerp": ("Spherical (slerp): the direction from the origin turns at a constant rate from A's to B's while the "
              "distance from the origin changes linearly; where the arc bulges past the box's faces the point is "
              "clipped to the box (a star after t)."),
    "shown": ("'shown' columns: statistics of the heatmap as drawn (the layer reduced over its channels by the "
              "chosen mode: mean, max, sd or one channel); the others are over every value of the layer."),
    "sd": "sd: standard deviation of the values.",
}


def explain(term: str, **values) -> str:
    """The explanation of ``term`` (a key of :data:`TERMS`; for a method string such as
    ``adaptive(stride=4)`` its name and stride are read from it)."""
    m = re.fullmatch(r"(\w+)\(stride=(\d+)\)", term)
    if m:
        term, values = m.group(1), {"stride": int(m.group(2)), **values}
    text = TERMS[term]
    return text.format(**values) if values else text.replace("{stride}", "n")
