"""Every example answers --help and trains for a couple of steps offline, writing its weights and curves."""

import os
import pathlib
import subprocess
import sys

import pytest

import minicnn

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ["mnist_cnn", "lenet_mnist", "vgg_fashion_mnist", "inception_mnist", "resnet_mnist", "keras_style_cnn"]


def run_example(name, *args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the repository's minicnn, installed or not
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_help(name, tmp_path):
    result = run_example(name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for flag in ("--batch-size", "--epochs", "--lr", "--no-cuda", "--seed", "--log-interval", "--data"):
        assert flag in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_trains_a_few_steps_offline(name, tmp_path):
    # the VGG example prefers Debian's Fashion-MNIST when installed: keep its smoke run on the small sample
    data = ["--data", "sample"] if name == "vgg_fashion_mnist" else ["--data-dir", str(tmp_path / "nothing-here")]
    limits = ["--epochs", "1", "--max-steps", "2", "--no-progress", "--test-batch-size", "500"]
    result = run_example(name, *limits, *data, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundled with minicnn" in result.stdout  # no dataset, no network: the sample, and it says so
    assert "Test set: average loss" in result.stdout
    weights = tmp_path / f"{name}.safetensors"
    assert weights.exists() and (tmp_path / f"{name}_curves.png").exists()
    state = minicnn.load(weights)
    assert state and all(isinstance(value, minicnn.Tensor) for value in state.values())


def test_mnist_cnn_dry_run_and_no_outputs(tmp_path):
    result = run_example(
        "mnist_cnn", "--dry-run", "--no-progress", "--save-model", "", "--plot", "", "--data", "sample", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SeedCNN(" in result.stdout and "Test set" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_inspect_cnn_writes_its_pictures(tmp_path):
    result = run_example("inspect_cnn", "--out", str(tmp_path / "out"), "--max-steps", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    pictures = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(name.endswith(".png") for name in pictures) and len(pictures) >= 4, pictures
