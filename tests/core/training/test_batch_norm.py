"""Batch norm while training: folding gives the plain FCN-VGG computing the same function."""

from __future__ import annotations

import torch

from fcnviewer.core.checkpoints import load_checkpoint
from fcnviewer.core.models import ArchSpec, build_model, randomize_weights
from fcnviewer.core.training import TrainConfig, set_dropout, train
from fcnviewer.core.training.batch_norm import ConvBatchNorm, attach_batch_norm, folded, has_batch_norm
from fcnviewer.core.training.data.synthetic import CLASS_NAMES, PALETTE, SYNTHETIC_PREPROCESSING, SyntheticScenes

WIDTH = 1 / 32


def _normalised_model(seed: int = 0) -> torch.nn.Module:
    model = attach_batch_norm(randomize_weights(build_model(ArchSpec("fcn8s", 6, WIDTH)), seed))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ConvBatchNorm):
                n = module.bn.num_features
                module.bn.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bn.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.bn.running_mean.copy_(torch.randn(n, generator=generator))
                module.bn.running_var.copy_(0.5 + torch.rand(n, generator=generator) * 3)
    return model.eval()


def test_attach_wraps_every_backbone_conv_and_nothing_else():
    model = attach_batch_norm(build_model(ArchSpec("fcn8s", 6, WIDTH)))
    wrapped = {name for name, m in model.named_children() if isinstance(m, ConvBatchNorm)}
    assert len(wrapped) == 13 + 2 and {"conv1_1", "conv5_3", "fc6", "fc7"} <= wrapped
    assert not any(name.startswith(("score", "upscore")) for name in wrapped)
    assert has_batch_norm(model) and not has_batch_norm(build_model(ArchSpec("fcn8s", 6, WIDTH)))
    # attaching twice changes nothing
    assert len(list(attach_batch_norm(model).modules())) == len(list(model.modules()))


def test_folded_model_has_plain_keys_and_computes_the_same():
    model = _normalised_model()
    plain = build_model(ArchSpec("fcn8s", 6, WIDTH))
    result = folded(model)
    assert not has_batch_norm(result) and has_batch_norm(model)  # the original is left as it was
    assert {k: v.shape for k, v in result.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    x = torch.randn(2, 3, 37, 51)
    with torch.no_grad():
        expected, got = model(x), result.eval()(x)
    assert list(got) == list(expected)
    for name in expected:
        scale = float(expected[name].abs().max())
        assert scale > 0
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-5 * scale)


def test_training_with_batch_norm_saves_plain_checkpoints_and_resumes(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_set = SyntheticScenes(range(6), 40)
        config = TrainConfig(
            arch="staged", width=WIDTH, num_classes=6, steps=(3, 2, 2), batch=2, lr=0.01, warmup=1,
            batch_norm=True, dropout=0.0, val_every=0, save_every=1, out=tmp_path, command="test",
        )  # fmt: skip
        logs: list[str] = []
        kwargs = {"class_names": CLASS_NAMES, "palette": PALETTE, "log": logs.append, "progress": False}
        train(config, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
        # every shared tensor carried over from stage to stage: 15 convs (weight, bias), score_fr,
        # and 15 batch norms (weight, bias, running mean and variance, batch count)
        assert any("fcn16s] initialised from fcn32s: 107 tensors" in line for line in logs), logs
        loaded = load_checkpoint(tmp_path / "fcn8s.safetensors")
        assert not has_batch_norm(loaded.model)
        assert loaded.info.training["batch_norm"]
        state = torch.load(tmp_path / "fcn8s-state.pth", weights_only=True)
        assert "conv1_1.bn.running_var" in state["model"]

        config.resume = tmp_path / "fcn8s-state.pth"
        train(config, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
        assert any("resumed at step 2" in line for line in logs)
        again = load_checkpoint(tmp_path / "fcn8s.safetensors").model
        for key, value in loaded.model.state_dict().items():
            torch.testing.assert_close(again.state_dict()[key], value)
    finally:
        torch.set_num_threads(before)


def test_attaching_to_a_trained_network_with_a_sample_keeps_its_function():
    plain = randomize_weights(build_model(ArchSpec("fcn8s", 6, WIDTH)), 3)
    set_dropout(plain, 0.0)
    x = torch.randn(3, 3, 41, 45)
    with torch.no_grad():
        expected = plain(x)["out"]
        normalised = attach_batch_norm(plain, x).train()  # batch statistics, as in training
        got = normalised(x)["out"]
        refolded = folded(normalised).eval()(x)["out"]  # running statistics = the sample's
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-3 * scale)
    torch.testing.assert_close(refolded, expected, rtol=0, atol=1e-3 * scale)
