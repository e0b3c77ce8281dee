"""minicnn.train: fit / evaluate / History on a tiny separable problem; checkpoints, exact resume,
non-finite losses, progress output, max_steps, schedulers and plots."""

import io
import math
import os
import struct
import sys

import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.nn import functional as F
from minicnn.optim import lr_scheduler
from minicnn.serialization import load, save
from minicnn.train import Evaluation, History, evaluate, fit
from minicnn.utils.data import DataLoader, TensorDataset
from tests.helpers import DEVICES, require_torch


def blobs(n=96, seed=0):
    """Two well-separated classes in 2-D: the label is which side of the line x0 + x1 = 0 a point is on."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    points = rng.standard_normal((n, 2)) * 0.5 + (labels[:, None] * 2 - 1) * 1.5
    return points.astype(np.float32), labels.astype(np.int64)


def make_model(seed=0, dropout=0.2):
    minicnn.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def loaders(batch_size=16, shuffle=True, generator=None):
    train = DataLoader(TensorDataset(*blobs()), batch_size=batch_size, shuffle=shuffle, generator=generator)
    val = DataLoader(TensorDataset(*blobs(40, seed=1)), batch_size=32)
    return train, val


def weights(model):
    return {key: value.numpy().copy() for key, value in model.state_dict().items()}


def quiet_fit(model, train, **kwargs):
    kwargs.setdefault("optimizer", minicnn.optim.Adam(model.parameters(), lr=0.05))
    kwargs.setdefault("epochs", 3)
    return fit(model, train, progress=False, verbose=False, **kwargs)


# ---------------------------------------------------------------- history and metrics


def test_history_keys_and_lengths_with_and_without_validation():
    train, val = loaders()
    history = quiet_fit(make_model(), train, val_loader=val, epochs=3)
    assert isinstance(history, History) and len(history) == 3 and history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert all(len(values) == 3 for values in history.history.values())
    assert all(isinstance(v, float) and v > 0 for v in history["time"]) and history["lr"] == [0.05] * 3
    without = quiet_fit(make_model(), train, epochs=2)
    assert list(without.history) == ["loss", "accuracy", "lr", "time"]  # validation keys only with a val_loader
    assert "History(epochs=2" in repr(without)


def test_loss_decreases_and_the_problem_is_learned():
    train, val = loaders()
    history = quiet_fit(make_model(), train, val_loader=val, epochs=5)
    assert history["loss"][-1] < history["loss"][0] * 0.5
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert history["accuracy"][-1] >= 0.95 and history["val_accuracy"][-1] >= 0.95


def test_evaluate_matches_a_hand_computed_loss_and_accuracy():
    model = make_model()
    quiet_fit(model, loaders()[0], epochs=1)
    points, labels = blobs(50, seed=3)
    loader = DataLoader(TensorDataset(points, labels), batch_size=16)  # uneven last batch: 16, 16, 16, 2
    result = evaluate(model, loader)
    assert isinstance(result, Evaluation)
    model.eval()
    logits = model(minicnn.tensor(points)).detach().numpy().astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected_loss = -log_probs[np.arange(50), labels].mean()
    expected_accuracy = (logits.argmax(axis=1) == labels).mean()
    loss, accuracy = result
    assert math.isclose(loss, expected_loss, rel_tol=1e-5) and accuracy == expected_accuracy == result.accuracy


def test_training_accuracy_is_counted_per_sample():
    class Constant(nn.Module):  # always predicts class 1, and learns nothing useful
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(minicnn.tensor([0.0, 5.0]))

        def forward(self, x):
            return x[:, :1] * 0 + self.bias

    points, labels = blobs(30)
    loader = DataLoader(TensorDataset(points, labels), batch_size=7)
    history = quiet_fit(Constant(), loader, optimizer=minicnn.optim.SGD(Constant().parameters(), lr=0.0), epochs=1)
    assert history["accuracy"] == [labels.mean()]


def test_evaluate_uses_eval_mode_no_grad_and_restores_the_mode():
    model = make_model(dropout=0.9)
    _, val = loaders()
    first, second = evaluate(model, val), evaluate(model, val)
    assert first == second  # dropout is off, BatchNorm uses running statistics
    assert model.training and all(p.grad is None for p in model.parameters())
    model.eval()
    evaluate(model, val)
    assert not model.training


def test_accuracy_with_one_hot_targets_and_nan_for_regression():
    points, labels = blobs(20)
    model = make_model()
    one_hot = np.eye(2, dtype=np.float32)[labels]
    result = evaluate(model, [(points, one_hot)], loss_fn=F.cross_entropy)
    assert result.accuracy == evaluate(model, [(points, labels)]).accuracy
    regression = evaluate(model, [(points, one_hot)], loss_fn=F.mse_loss)
    assert math.isclose(regression.accuracy, result.accuracy)  # one-hot rows still define a class
    scalar = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    assert math.isnan(evaluate(scalar, [(points, points[:, 0])], loss_fn=F.mse_loss).accuracy)


def test_batches_may_be_numpy_arrays_lists_or_torch_tensors():
    torch = require_torch()
    points, labels = blobs(32)
    batches = [(points[:16], labels[:16]), (torch.from_numpy(points[16:]), torch.from_numpy(labels[16:]))]
    history = quiet_fit(make_model(), batches, epochs=2)
    assert len(history) == 2
    assert evaluate(make_model(), [[points.tolist(), labels.tolist()]]).loss > 0


@pytest.mark.parametrize(
    "batches, match",
    [
        ([(np.ones((2, 2), np.float32),)], r"expected each batch to be \(inputs, targets\), got a tuple of 1 items"),
        ([{"x": 1}], r"expected each batch to be \(inputs, targets\), got a dict"),
        ([], "yielded no batches"),
    ],
)
def test_bad_loaders_are_reported(batches, match):
    with pytest.raises(ValueError, match="fit: .*" + match):
        quiet_fit(make_model(), batches, epochs=1)
    with pytest.raises(ValueError, match="evaluate: .*" + match):
        evaluate(make_model(), batches)


def test_bad_arguments_are_reported():
    train, _ = loaders()
    for name, value in [("epochs", 0), ("epochs", 1.5), ("max_steps", -1), ("log_interval", True)]:
        with pytest.raises(ValueError, match=f"fit: {name} must be a positive int"):
            quiet_fit(make_model(), train, **{"epochs": 1, name: value})
    with pytest.raises(ValueError, match="resume=True resumes from `checkpoint`"):
        quiet_fit(make_model(), train, resume=True)
    with pytest.raises(ValueError, match="loss_fn must return a one-element tensor"):
        quiet_fit(make_model(), train, loss_fn=lambda out, y: F.cross_entropy(out, y, reduction="none"))


# ---------------------------------------------------------------- non-finite losses


class PoisonedLoader:
    """Yields the normal batches, except a batch of NaN inputs at (epoch, step), both 1-based."""

    def __init__(self, loader, epoch, step):
        self.loader, self.bad_epoch, self.bad_step, self.epoch = loader, epoch, step, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.epoch += 1
        for step, (inputs, targets) in enumerate(self.loader, start=1):
            if (self.epoch, step) == (self.bad_epoch, self.bad_step):
                inputs = minicnn.full(inputs.shape, math.nan)
            yield inputs, targets


def test_nan_loss_stops_before_the_step_and_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "run.safetensors"
    model = make_model()
    train, _ = loaders(shuffle=False)
    with pytest.raises(
        FloatingPointError, match=r"loss is nan at epoch 3, step 1 \(optimizer step 13 overall\)"
    ) as info:
        quiet_fit(model, PoisonedLoader(train, epoch=3, step=1), epochs=5, checkpoint=path)
    assert "still holds epoch 2" in str(info.value)
    saved = load(path)
    assert saved["epoch"] == 2 and len(saved["history"]["loss"]) == 2
    for key, value in weights(model).items():  # the weights are exactly those saved after epoch 2
        np.testing.assert_array_equal(value, saved["model"][key].numpy())
        assert np.isfinite(value).all()


def test_inf_loss_mid_epoch_leaves_the_weights_of_the_last_good_step():
    model = make_model()
    train, _ = loaders(shuffle=False)
    seen = []  # the parameters and buffers each step starts from
    model.register_forward_pre_hook(lambda module, args: seen.append(weights(model)))

    def loss_fn(outputs, targets):
        loss = F.cross_entropy(outputs, targets)
        return loss * math.inf if len(seen) == 8 else loss

    with pytest.raises(FloatingPointError, match=r"loss is inf at epoch 2, step 2 \(optimizer step 8 overall\)"):
        quiet_fit(model, train, loss_fn=loss_fn, epochs=3)
    for key, value in weights(model).items():
        np.testing.assert_array_equal(value, seen[-1][key])


# ---------------------------------------------------------------- checkpoints and resume


def run(epochs, generator_seed=None, scheduler=True, **kwargs):
    model = make_model(seed=0)
    generator = minicnn.Generator().manual_seed(generator_seed) if generator_seed is not None else None
    train, val = loaders(generator=generator)
    optimizer = minicnn.optim.Adam(model.parameters(), lr=0.05)
    sched = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7) if scheduler else None
    minicnn.manual_seed(123)  # the shuffling and dropout stream
    history = fit(
        model, train, optimizer=optimizer, epochs=epochs, val_loader=val, scheduler=sched, progress=False, **kwargs
    )
    return model, optimizer, history


@pytest.mark.parametrize("generator_seed", [None, 7], ids=["global-rng", "loader-generator"])
def test_resumed_run_equals_an_uninterrupted_one_exactly(tmp_path, generator_seed):
    straight_model, straight_optimizer, straight = run(4, generator_seed, verbose=False)
    path = tmp_path / "run.safetensors"
    run(2, generator_seed, checkpoint=path, verbose=False)
    minicnn.manual_seed(999)  # whatever happened to the random stream in between is undone by resume
    model, optimizer, history = run(4, generator_seed, checkpoint=path, resume=path, verbose=False)
    for key, value in weights(straight_model).items():
        np.testing.assert_array_equal(weights(model)[key], value, err_msg=key)
    for a, b in zip(straight_optimizer.state.values(), optimizer.state.values()):
        np.testing.assert_array_equal(a["exp_avg_sq"], b["exp_avg_sq"])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert history[key] == straight[key], key
    assert load(path)["epoch"] == 4


def test_resume_true_starts_fresh_without_a_checkpoint_and_resumes_with_one(tmp_path, capsys):
    path = tmp_path / "run.safetensors"
    run(2, checkpoint=path, resume=True)
    assert load(path)["epoch"] == 2
    capsys.readouterr()
    _, _, history = run(3, checkpoint=path, resume=True)
    assert len(history) == 3 and capsys.readouterr().out.count("\n") == 1  # only epoch 3 ran
    _, _, history = run(3, checkpoint=path, resume=True)  # already done: nothing to train
    assert len(history) == 3 and capsys.readouterr().out == ""


def test_checkpoint_contents(tmp_path):
    path = tmp_path / "run.safetensors"
    model, optimizer, history = run(2, checkpoint=path, verbose=False)
    saved = load(path)
    assert saved["kind"] == "minicnn.fit" and saved["epoch"] == 2 and saved["global_step"] == 12
    assert saved["history"] == history.history
    assert saved["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert saved["scheduler"]["last_epoch"] == 2 and saved["scheduler"]["base_lrs"] == [0.05]
    assert saved["random_state"]["minicnn"]["bit_generator"] == "PCG64"
    for key, value in weights(model).items():
        np.testing.assert_array_equal(saved["model"][key].numpy(), value)


def test_resume_refuses_foreign_files_and_mismatched_schedulers(tmp_path):
    path = tmp_path / "run.safetensors"
    save(make_model().state_dict(), path)
    with pytest.raises(ValueError, match="not a checkpoint written by fit"):
        run(3, resume=path)
    run(1, checkpoint=path, verbose=False)
    with pytest.raises(ValueError, match="has scheduler state, but fit was called with scheduler=None"):
        run(3, scheduler=False, resume=path)
    with pytest.raises(FileNotFoundError):
        run(3, resume=tmp_path / "missing.safetensors")


def everything(model, optimizer, scheduler, generator):
    """Copies of every tensor and number a resume could change."""
    return {
        "model": weights(model),
        "optimizer": {
            id(p): {k: np.array(v, copy=True) for k, v in state.items()} for p, state in optimizer.state.items()
        },
        "groups": [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
        "params": [[id(p) for p in g["params"]] for g in optimizer.param_groups],
        "scheduler": {k: v for k, v in scheduler.state_dict().items() if not callable(v)},
        "rng": (minicnn.backend.cpu_generator().bit_generator.state, generator.numpy_generator.bit_generator.state),
    }


def assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before["model"]:
        np.testing.assert_array_equal(after["model"][key], before["model"][key], err_msg=key)
    assert before["optimizer"].keys() == after["optimizer"].keys()
    for param, state in before["optimizer"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(after["optimizer"][param][name], value, err_msg=name)
    for key in ("groups", "params", "scheduler", "rng"):
        assert after[key] == before[key], key


def forged_checkpoint(path, tmp_path, change):
    state = load(path)
    change(state)
    forged = tmp_path / "forged.safetensors"
    save(state, forged)
    return forged


@pytest.mark.parametrize(
    "refusal",
    [
        "optimizer over fewer parameters",
        "optimizer over the parameters in another order",
        "another kind of scheduler",
        "history of another length",
        "damaged random state",
        "another model",
        "failure while applying",
    ],
)
def test_a_refused_resume_changes_nothing(tmp_path, monkeypatch, refusal):
    path = tmp_path / "run.safetensors"
    run(2, checkpoint=path, verbose=False)  # the checkpoint to resume from
    # a model, optimizer and scheduler with state of their own (one epoch of another run)
    model, generator = make_model(seed=5), minicnn.Generator().manual_seed(3)
    train, _ = loaders(generator=generator)
    params = list(model.parameters())
    if refusal == "optimizer over fewer parameters":
        params = params[:-1]
    if refusal == "optimizer over the parameters in another order":
        params = params[::-1]
    optimizer = minicnn.optim.Adam(params, lr=0.05)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    if refusal == "another kind of scheduler":
        scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    quiet_fit(model, train, optimizer=optimizer, scheduler=scheduler, epochs=1)
    resume = path
    if refusal == "history of another length":
        resume = forged_checkpoint(path, tmp_path, lambda state: state["history"]["loss"].append(1.0))
    if refusal == "damaged random state":
        resume = forged_checkpoint(path, tmp_path, lambda state: state["random_state"]["minicnn"].pop("state"))
    if refusal == "another model":
        resume = forged_checkpoint(path, tmp_path, lambda state: state["model"].pop("0.bias"))
    if refusal == "failure while applying":  # the checks pass but applying fails half-way: it is undone
        monkeypatch.setattr(scheduler, "load_state_dict", lambda state: 1 / 0)
    before = everything(model, optimizer, scheduler, generator)
    error = ZeroDivisionError if refusal == "failure while applying" else ValueError
    with pytest.raises(error, match=None if error is ZeroDivisionError else "cannot resume from .*nothing was changed"):
        quiet_fit(model, train, optimizer=optimizer, scheduler=scheduler, epochs=3, resume=resume)
    assert_same(before, everything(model, optimizer, scheduler, generator))


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
        lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1),
        lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=5),
        lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40),
        lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5),
    ],
    ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"],
)
def test_scheduler_state_round_trips_through_a_checkpoint(tmp_path, make):
    def fresh():
        model = make_model()
        optimizer = minicnn.optim.Adam(model.parameters(), lr=0.05)
        return model, optimizer, make(optimizer)

    path = tmp_path / "run.safetensors"
    train, _ = loaders(shuffle=False)
    model, optimizer, scheduler = fresh()
    quiet_fit(model, train, optimizer=optimizer, scheduler=scheduler, epochs=2, checkpoint=path)
    model2, optimizer2, scheduler2 = fresh()
    quiet_fit(model2, train, optimizer=optimizer2, scheduler=scheduler2, epochs=2, resume=path)  # restore only
    assert scheduler2.last_epoch == scheduler.last_epoch
    assert scheduler2.get_last_lr() == scheduler.get_last_lr() == [g["lr"] for g in optimizer2.param_groups]
    for name, value in scheduler.state_dict().items():
        if not callable(value):
            assert scheduler2.state_dict()[name] == value, name


# ---------------------------------------------------------------- schedulers, max_steps, devices


def test_schedulers_step_once_per_epoch_and_one_cycle_per_batch():
    train, val = loaders()  # 6 batches per epoch
    model = make_model()
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1)
    history = quiet_fit(model, train, optimizer=optimizer, scheduler=lr_scheduler.StepLR(optimizer, 1, 0.5), epochs=3)
    assert history["lr"] == [0.1, 0.05, 0.025] and optimizer.param_groups[0]["lr"] == 0.0125

    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    one_cycle = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=2, steps_per_epoch=6)
    quiet_fit(model, train, optimizer=optimizer, scheduler=one_cycle, epochs=2)
    assert one_cycle.last_epoch == 12

    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    watched = []
    original_step = plateau.step
    plateau.step = lambda metric: (watched.append(metric), original_step(metric))[1]
    history = quiet_fit(model, train, optimizer=optimizer, scheduler=plateau, val_loader=val, epochs=2)
    assert watched == history["val_loss"]


def test_max_steps_stops_after_that_many_optimizer_steps():
    train, _ = loaders()  # 6 batches per epoch
    model = make_model()
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1)
    steps = []
    original_step = optimizer.step
    optimizer.step = lambda: (steps.append(1), original_step())[1]
    history = quiet_fit(model, train, optimizer=optimizer, epochs=10, max_steps=8)
    assert len(steps) == 8 and len(history) == 2  # 6 steps in epoch 1, 2 in epoch 2
    history = quiet_fit(model, train, optimizer=optimizer, epochs=10, max_steps=3)
    assert len(steps) == 11 and len(history) == 1


def test_max_steps_counts_the_steps_of_a_resumed_run(tmp_path):
    path = tmp_path / "run.safetensors"
    run(1, checkpoint=path, verbose=False)  # 6 steps
    _, _, history = run(5, checkpoint=path, resume=path, max_steps=9, verbose=False)
    assert len(history) == 2 and load(path)["global_step"] == 9


@pytest.mark.parametrize("device", DEVICES)
def test_device_argument_moves_the_model_and_the_batches(device):
    model = make_model()
    train, val = loaders()
    history = quiet_fit(model, train, val_loader=val, device=device, epochs=2)
    assert all(p.device == minicnn.device(device) for p in model.parameters())
    assert history["val_accuracy"][-1] > 0.8
    assert evaluate(model, val, device=device).accuracy == history["val_accuracy"][-1]


# ---------------------------------------------------------------- output


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_running_loss_and_accuracy_on_a_terminal(monkeypatch, capsys):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train, val = loaders()
    model = make_model()
    fit(model, train, optimizer=minicnn.optim.Adam(model.parameters()), epochs=2, val_loader=val)
    shown = terminal.getvalue()
    assert "Epoch 1/2" in shown and "Epoch 2/2" in shown and "6/6" in shown
    assert "loss=" in shown and "accuracy=" in shown and "val_accuracy=" in shown
    assert capsys.readouterr().out == ""  # the bar replaces the summary lines


def test_without_a_terminal_one_line_per_epoch(capsys):
    train, _ = loaders()
    model = make_model()
    optimizer = minicnn.optim.Adam(model.parameters())
    fit(model, train, optimizer=optimizer, epochs=2)  # progress=True, but stderr is not a terminal here
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ") and "accuracy" in lines[0]
    assert "%|" not in captured.err  # no bar drawn into logs
    fit(model, train, optimizer=optimizer, epochs=1, verbose=False)
    assert capsys.readouterr().out == ""


def test_log_interval_prints_running_metrics(capsys):
    train, _ = loaders()  # 96 samples, 6 batches
    model = make_model()
    fit(model, train, optimizer=minicnn.optim.Adam(model.parameters()), epochs=1, log_interval=2, progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" loss")[0] for line in lines[:3]] == [
        "epoch 1/1 [32/96]",
        "epoch 1/1 [64/96]",
        "epoch 1/1 [96/96]",
    ]
    assert len(lines) == 4  # and the summary line


# ---------------------------------------------------------------- plots


def png_size(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_real_png_of_the_expected_size(tmp_path):
    matplotlib_image = pytest.importorskip("matplotlib.image")
    train, val = loaders()
    history = quiet_fit(make_model(), train, val_loader=val, epochs=3)
    path = tmp_path / "curves.png"
    assert history.plot(path) == path
    assert png_size(path) == (1000, 400)  # figsize (10, 4) inches at 100 dpi
    pixels = matplotlib_image.imread(path)
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50
    history.plot(tmp_path / "small.png", figsize=(4, 3), dpi=50)
    assert png_size(tmp_path / "small.png") == (200, 150)
    without_val = quiet_fit(make_model(), train, epochs=2)
    without_val.plot(tmp_path / "train-only.png")
    assert png_size(tmp_path / "train-only.png") == (1000, 400)


def drawn_lines(history, tmp_path, monkeypatch, **kwargs):
    """{(axes title, legend label): (x, y)} of every line History.plot draws."""
    from matplotlib.figure import Figure

    drawn = {}
    original = Figure.savefig

    def capture(figure, *args, **kw):
        for axes in figure.axes:
            for line in axes.get_lines():
                drawn[(axes.get_title(), line.get_label())] = (list(line.get_xdata()), list(line.get_ydata()))
            drawn[(axes.get_title(), "xlabel")] = axes.get_xlabel()
        return original(figure, *args, **kw)

    monkeypatch.setattr(Figure, "savefig", capture)
    history.plot(tmp_path / "curves.png", **kwargs)
    return drawn


def test_plot_draws_train_and_validation_on_shared_axes_per_epoch_or_per_step(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    train, val = loaders()  # 96 samples in batches of 16: 6 steps per epoch
    history = quiet_fit(make_model(), train, val_loader=val, epochs=2)
    lines = drawn_lines(history, tmp_path, monkeypatch, val_label="test")
    for title, key in (("Accuracy", "accuracy"), ("Loss", "loss")):  # both curves on one axes, per epoch
        assert lines[(title, "train")] == ([1, 2], history.history[key])
        assert lines[(title, "test")] == ([1, 2], history.history[f"val_{key}"])
        assert lines[(title, "xlabel")] == "epoch"
    # a run shorter than two epochs: per step, with an evaluation every 2 steps (and at the epoch's end)
    short = quiet_fit(make_model(), train, val_loader=val, epochs=1, max_steps=5, eval_every=2)
    assert short.steps["step"] == [1, 2, 3, 4, 5] and short.steps["val_step"] == [2, 4, 5]
    assert short.steps["val_loss"][-1] == short.history["val_loss"][-1]
    lines = drawn_lines(short, tmp_path, monkeypatch)
    assert lines[("Loss", "train (each batch)")] == ([1, 2, 3, 4, 5], short.steps["loss"])
    assert lines[("Accuracy", "validation")] == ([2, 4, 5], short.steps["val_accuracy"])
    assert lines[("Loss", "xlabel")] == "optimizer step"
    assert all(0 <= a <= 1 for a in short.steps["accuracy"])
    with pytest.raises(ValueError, match="eval_every"):
        quiet_fit(make_model(), train, val_loader=val, epochs=1, eval_every=0)


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    history = History()
    history.history["loss"].append(1.0)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.ticker"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import matplotlib...` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "\.\[plot\]"'):
        history.plot(tmp_path / "x.png")
    assert not os.path.exists(tmp_path / "x.png")


def test_plot_of_an_empty_history_is_an_error(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="nothing to plot"):
        History().plot(tmp_path / "x.png")


def test_without_tqdm_the_summary_lines_are_printed(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    train, _ = loaders()
    model = make_model()
    fit(model, train, optimizer=minicnn.optim.Adam(model.parameters()), epochs=2)
    assert len(capsys.readouterr().out.splitlines()) == 2 and sys.stderr.getvalue() == ""


def test_validation_added_on_resume_leaves_gaps_in_the_history(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "run.safetensors"
    train, val = loaders()
    model = make_model()
    quiet_fit(model, train, epochs=1, checkpoint=path)
    history = quiet_fit(make_model(), train, epochs=3, val_loader=val, checkpoint=path, resume=True)
    assert history["val_loss"][0] is None and all(v is not None for v in history["val_loss"][1:])
    assert all(len(values) == 3 for values in history.history.values())
    history.plot(tmp_path / "gaps.png")
    assert png_size(tmp_path / "gaps.png") == (1000, 400)
    # and the other way round: validation dropped on resume
    history = quiet_fit(make_model(), train, epochs=4, checkpoint=path, resume=True)
    assert history["val_loss"][-1] is None and len(history["val_loss"]) == 4


def test_accuracy_of_per_pixel_outputs_is_a_fraction():
    import minicnn as mc
    from minicnn.utils.data import DataLoader, TensorDataset

    model = mc.nn.Conv2d(1, 3, 1)
    x = mc.randn(8, 1, 4, 4)
    with mc.no_grad():
        y = model(x).argmax(dim=1)
    result = mc.evaluate(model, DataLoader(TensorDataset(x, y), batch_size=4))
    assert result.accuracy == 1.0


def _tiny_run(tmp_path, generator=None, model=None, scheduler_factory=None):
    data = TensorDataset(minicnn.randn(16, 3), minicnn.randint(0, 2, (16,)))
    loader = DataLoader(data, batch_size=4, shuffle=True, generator=generator)
    model = model if model is not None else nn.Sequential(nn.Linear(3, 2))
    model(minicnn.randn(1, 3))  # (a lazy model's dry run)
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1)
    scheduler = scheduler_factory(optimizer) if scheduler_factory else None
    return model, optimizer, scheduler, loader


def test_resume_with_a_loader_on_another_bit_generator(tmp_path):
    """A loader shuffling with an MT19937 generator writes a checkpoint that resumes (not only PCG64)."""
    path = tmp_path / "run.safetensors"
    model, optimizer, _, loader = _tiny_run(tmp_path, np.random.Generator(np.random.MT19937(0)))
    minicnn.fit(model, loader, optimizer=optimizer, epochs=1, checkpoint=path, progress=False, verbose=False)
    history = minicnn.fit(model, loader, optimizer=optimizer, epochs=2, resume=path, progress=False, verbose=False)
    assert len(history.history["loss"]) == 2


def test_a_resume_undone_midway_keeps_lambda_lr_working(tmp_path, monkeypatch):
    """Applying a valid checkpoint fails after the model is loaded: the undo puts everything back, and a
    LambdaLR keeps its function (its state dict holds None in its place)."""
    path = tmp_path / "run.safetensors"
    factory = lambda opt: minicnn.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch)  # noqa: E731
    model, optimizer, scheduler, loader = _tiny_run(tmp_path, scheduler_factory=factory)
    minicnn.fit(model, loader, optimizer=optimizer, scheduler=scheduler, epochs=1, checkpoint=path, progress=False)
    other = nn.Sequential(nn.Linear(3, 2))
    other_optimizer = minicnn.optim.SGD(other.parameters(), lr=0.1)
    other_scheduler = factory(other_optimizer)
    with minicnn.no_grad():
        other[0].weight.fill_(7.0)
    real_load, calls = other_scheduler.load_state_dict, []

    def fails_once(state):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk gone")
        real_load(state)

    monkeypatch.setattr(other_scheduler, "load_state_dict", fails_once)
    with pytest.raises(RuntimeError, match="disk gone"):
        minicnn.fit(
            other, loader, optimizer=other_optimizer, scheduler=other_scheduler, epochs=2, resume=path, progress=False
        )
    assert len(calls) == 2  # the failed load, then the undo
    np.testing.assert_array_equal(other[0].weight.detach().numpy(), np.full((2, 3), 7.0, dtype=np.float32))
    other_scheduler.step()  # its function is still there
    assert other_optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_resume_into_a_fresh_lazy_model(tmp_path):
    path = tmp_path / "run.safetensors"
    model, optimizer, _, loader = _tiny_run(tmp_path)
    minicnn.fit(model, loader, optimizer=optimizer, epochs=1, checkpoint=path, progress=False, verbose=False)
    fresh = nn.Sequential(nn.LazyLinear(2))
    fresh_optimizer = minicnn.optim.SGD(fresh.parameters(), lr=0.1)
    minicnn.fit(fresh, loader, optimizer=fresh_optimizer, epochs=2, resume=path, progress=False, verbose=False)
    assert type(fresh[0]) is nn.Linear and fresh[0].weight.shape == (2, 3)


def test_eval_every_does_not_evaluate_twice_at_the_end_of_an_epoch(tmp_path, monkeypatch):
    import minicnn.train as train_module

    model, optimizer, _, loader = _tiny_run(tmp_path)  # 4 steps an epoch
    calls, real_evaluate = [], train_module.evaluate
    monkeypatch.setattr(train_module, "evaluate", lambda *args: calls.append(1) or real_evaluate(*args))
    history = minicnn.fit(
        model, loader, optimizer=optimizer, epochs=2, val_loader=loader, eval_every=2, progress=False, verbose=False
    )
    assert len(calls) == 4 and history.steps["val_step"] == [2, 4, 6, 8]  # steps 4 and 8 end an epoch: once each
    assert history.history["val_loss"] == [history.steps["val_loss"][1], history.steps["val_loss"][3]]
    with pytest.raises(ValueError, match="no val_loader"):
        minicnn.fit(model, loader, optimizer=optimizer, epochs=1, eval_every=2, progress=False)
