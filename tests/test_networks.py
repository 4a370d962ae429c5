"""The networks match the reference template and its parameter counts exactly (the
reference's label shift and mask), and the default label paths cost what docs/training.md says."""
import pytest
import torch

from latent_explorer.models.networks import ACTIVATIONS, Discriminator, GanConfig, Generator, count_parameters, sample_latent


@pytest.mark.parametrize("d,conditional,total,trainable", [
    (2, False, 1_101_632, 1_076_160),
    (3, False, 1_114_176, 1_088_704),
    (4, False, 1_126_720, 1_101_248),
    (3, True, 1_114_206, 1_088_734),
])
def test_generator_parameter_counts(d, conditional, total, trainable):
    counts = count_parameters(Generator(GanConfig(d, conditional, conditioning="shift")))
    assert counts == {"total": total, "trainable": trainable, "non_trainable": 25_472}


@pytest.mark.parametrize("conditional,total", [(False, 212_865), (True, 220_705)])
def test_discriminator_parameter_counts(conditional, total):
    assert count_parameters(Discriminator(GanConfig(2, conditional), conditioning="mask"))["total"] == total


def test_default_label_paths_cost():
    """Hidden-layer label bias: 10 x 12,544 in place of the 10 x d shift; projection: 10 x 6,272
    in place of the 10 x 784 mask; the minibatch-std feature adds one weight to the head."""
    g = count_parameters(Generator(GanConfig(3, True)))["trainable"]
    assert g == 1_088_704 + 10 * 12_544
    d = count_parameters(Discriminator(GanConfig(3, True), minibatch_std=True))["total"]
    assert d == 212_865 + 10 * 6_272 + 1


@pytest.mark.parametrize("conditioning", ["hidden", "shift"])
def test_soft_labels_match_hard_labels(conditioning):
    g = Generator(GanConfig(2, True, conditioning=conditioning)).eval()
    z = sample_latent(6, 2, torch.Generator().manual_seed(1))
    y = torch.tensor([0, 3, 5, 7, 8, 9])
    with torch.no_grad():
        assert torch.allclose(g(z, y), g(z, torch.nn.functional.one_hot(y, 10).float()), atol=1e-6)


def test_old_conditional_checkpoints_read_as_shift():
    assert GanConfig.from_dict({"latent_dim": 2, "conditional": True}).conditioning == "shift"
    assert GanConfig.from_dict({"latent_dim": 2, "conditional": True, "conditioning": "hidden"}).conditioning == "hidden"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_generator_output_shape_and_range(activation):
    g = Generator(GanConfig(3, False, activation)).eval()
    with torch.no_grad():
        x = g(sample_latent(5, 3))
    assert x.shape == (5, 1, 28, 28)
    assert float(x.abs().max()) <= 1.0


def test_hidden_activation_is_used():
    types = {a: type(Generator(GanConfig(2, False, a)).act1).__name__ for a in ACTIVATIONS}
    assert types == {"leaky_relu": "LeakyReLU", "relu": "ReLU", "prelu": "PReLU", "elu": "ELU"}
    assert Generator(GanConfig(2)).act0.negative_slope == pytest.approx(0.3)


def test_conditional_models_need_labels_and_use_them():
    g = Generator(GanConfig(3, True)).eval()
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError):
        g(z)
    a, b = g(z, torch.tensor([1, 7]))
    assert not torch.allclose(a, b)
    d = Discriminator(GanConfig(3, True)).eval()
    assert d(torch.zeros(2, 1, 28, 28), torch.tensor([0, 1])).shape == (2,)


def test_discriminator_shape():
    assert Discriminator(GanConfig(2)).eval()(torch.zeros(4, 1, 28, 28)).shape == (4,)


def test_prior_is_the_box():
    z = sample_latent(10000, 4, torch.Generator().manual_seed(0))
    assert float(z.min()) >= -1 and float(z.max()) <= 1
    assert float(z.min()) < -0.99 and float(z.max()) > 0.99
    assert GanConfig(2).prior == "uniform[-1,1]"


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        GanConfig(0)
    with pytest.raises(ValueError):
        GanConfig(2, activation="swish")


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_conditional_digit_boxes_start_disjoint(d):
    import itertools

    emb = Generator(GanConfig(d, True, conditioning="shift")).label_embedding.weight.detach()
    sep = min(float((emb[i] - emb[j]).abs().max()) for i, j in itertools.combinations(range(10), 2))
    assert sep > 2.0  # boxes of side 2 shifted by these offsets do not overlap
