"""The shipped classifier: its card's accuracy comes from a real evaluation and meets the target."""
import re

import torch

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.training.data import load_split, to_gan_range
from latent_explorer.training.train_classifier import accuracy
from tests.conftest import CLASSIFIER


def test_card_accuracy_is_real_and_at_least_99_3(mnist_dir):
    ck = load_checkpoint(CLASSIFIER, expect="classifier")
    card = CLASSIFIER.with_suffix(".md").read_text()
    m = re.search(r"test accuracy \(MNIST test set, 10,000 images\) \| ([\d.]+)%", card)
    assert m, "the card states the test accuracy"
    card_acc = float(m.group(1)) / 100
    test = load_split("test", mnist_dir)
    measured = accuracy(ck.model, to_gan_range(test.images), torch.from_numpy(test.labels).long())
    assert abs(measured - card_acc) < 5e-5
    assert abs(measured - ck.meta["test_accuracy"]) < 1e-6
    assert measured >= 0.993
    assert ck.digest[:16] in card
