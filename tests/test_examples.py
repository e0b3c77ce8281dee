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
    held_out = "validation" if name == "keras_style_cnn" else "test"  # the curves: training and held-out data
    assert f"Saved the loss and accuracy curves (training and {held_out})" in result.stdout
    assert "Curves not saved" not in result.stdout
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


@pytest.mark.parametrize("name", EXAMPLES + ["inspect_cnn"])
def test_epochs_zero_is_a_usage_error(name, tmp_path):
    result = run_example(name, "--epochs", "0", cwd=tmp_path)
    assert result.returncode == 2 and "argument --epochs: must be at least 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_curves_without_matplotlib_only_mentioned_when_asked_for(tmp_path):
    """No matplotlib: silence by default; with --plot, one line naming the install command of the checkout."""
    script = (
        "import runpy, sys; sys.modules['matplotlib'] = None; sys.path.insert(0, sys.argv[1]); "
        "sys.argv = sys.argv[1:]; sys.argv[0] = sys.argv[0] + '/mnist_cnn.py'; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    common = [str(ROOT / "examples"), "--dry-run", "--no-progress", "--save-model", "", "--data", "sample"]
    for extra, expected in (([], None), (["--plot"], 'pip install ".[plot]"')):
        result = subprocess.run(
            [sys.executable, "-c", script, *common, *extra], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        if expected is None:
            assert "urves" not in result.stdout
        else:
            assert "Curves not saved to mnist_cnn_curves.png: matplotlib is not installed" in result.stdout
            assert expected in result.stdout and "minicnn[plot]" not in result.stdout


@pytest.mark.slow
def test_inspect_cnn_writes_its_pictures(tmp_path):
    result = run_example("inspect_cnn", "--out", str(tmp_path / "out"), "--max-steps", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    pictures = sorted(p.name for p in (tmp_path / "out").iterdir())
    expected = ["classes", "curves", "feature_maps", "filters", "grad_cam", "im2col", "maximized", "saliency"]
    assert all(f"{name}.png" in pictures for name in expected), pictures


@pytest.mark.parametrize("name", EXAMPLES + ["inspect_cnn"])
def test_every_example_takes_textbook(name, tmp_path):
    result = run_example(name, "--help", cwd=tmp_path)
    assert result.returncode == 0 and "--textbook" in result.stdout


def test_textbook_flag_runs_the_textbook_functions_with_the_same_numbers(tmp_path, fast_kernels_on):
    """The seed CNN's dry run (one step, one evaluation) prints the same test loss in both modes, and with
    --textbook the fast kernels are off while it trains (checked in-process)."""
    flags = ["--dry-run", "--no-progress", "--save-model", "", "--plot", "", "--data", "sample"]
    fast = run_example("mnist_cnn", *flags, cwd=tmp_path)
    textbook = run_example("mnist_cnn", *flags, "--textbook", cwd=tmp_path)
    assert fast.returncode == 0 and textbook.returncode == 0, fast.stderr + textbook.stderr

    def test_loss(output):  # "Test set: average loss 2.2872, accuracy 16.50%"
        line = next(line for line in output.splitlines() if line.startswith("Test set"))
        return float(line.split("average loss ")[1].split(",")[0])

    # float32 rounding differs between the two tiers, so one of 1,000 near-tied digits may flip: compare the loss
    assert test_loss(fast.stdout) == pytest.approx(test_loss(textbook.stdout), rel=1e-3)

    import importlib.util

    # examples/common.py under its own name (benchmarks/ has a `common` module too)
    spec = importlib.util.spec_from_file_location("examples_common", ROOT / "examples" / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    from minicnn.ops.fast import fast_kernels

    seen = []
    args = common.parser("x", batch_size=8, epochs=1, lr=0.1).parse_args(["--textbook"])
    with common.engine_mode(args):
        seen.append(fast_kernels())
    seen.append(fast_kernels())
    assert seen == [False, True]
