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


def test_card_names_its_cpu_and_says_why_the_generator_cards_name_another():
    """The classifier card's hardware names a CPU model; where the generators' cards name another,
    it says why (two machines), so the cards never disagree without a word."""
    card = CLASSIFIER.with_suffix(".md").read_text()
    row = re.search(r"^\| hardware \| (.+) \|$", card, re.M).group(1)
    cpu = re.match(r"CPU ([^,(]+?)(?:,|\s\()", row)
    assert cpu, f"the hardware row names a CPU model: {row}"
    others = set()
    for path in CLASSIFIER.parent.glob("*.md"):
        if path != CLASSIFIER.with_suffix(".md"):
            m = re.search(r"^\| hardware \| CPU ([^,|]+)", path.read_text(), re.M)
            if m:
                others.add(m.group(1).strip())
    assert others, "the generator cards name their CPU"
    for other in others - {cpu.group(1).strip()}:
        assert other.replace("(R)", "") in " ".join(card.replace("(R)", "").split()), f"the card says why {other} differs"
