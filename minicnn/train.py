"""``fit`` and ``evaluate``: the training loop every example needs, with a progress bar, checkpoints and resume.

    history = fit(model, train_loader, optimizer=optim.Adam(model.parameters()), epochs=10,
                  val_loader=test_loader, checkpoint="run.safetensors")
    test_loss, test_accuracy = evaluate(model, test_loader)
    history.plot("curves.png")

What one epoch of ``fit`` does::

    model.train()
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        (stop with FloatingPointError if the loss is inf or nan)
        loss.backward()
        optimizer.step()
    evaluate on val_loader          (model.eval(), no_grad)
    scheduler.step()                (once per epoch; OneCycleLR once per batch)
    record loss / accuracy / lr / time in the History
    save model, optimizer, scheduler, history and random-number state to `checkpoint`
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from . import backend
from .autograd.function import no_grad
from .checkpoints import restore_checkpoint, save_checkpoint
from .creation import tensor
from .ops.loss import cross_entropy
from .optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau
from .tensor import Tensor

__all__ = ["Evaluation", "History", "evaluate", "fit"]


class Evaluation(NamedTuple):
    """What ``evaluate`` returns: ``loss, accuracy = evaluate(...)``, or ``result.loss``, ``result.accuracy``."""

    loss: float
    accuracy: float


# ---------------------------------------------------------------- History


class History:
    """What ``fit`` measured, one entry per epoch, as in Keras: ``history.history['val_accuracy'][-1]``.

    Attributes:
        history: a dict of per-epoch lists:
            ``loss``, ``accuracy``: training loss and accuracy, averaged over the epoch's samples as the
            weights changed during the epoch (as Keras reports them; no extra pass over the data);
            ``val_loss``, ``val_accuracy``: on ``val_loader`` after the epoch; present only when
            ``fit`` was given a ``val_loader`` (as in Keras);
            ``lr``: the learning rate of the first parameter group during the epoch;
            ``time``: seconds the epoch took (training and validation).
            Accuracy is ``nan`` when the outputs are not class scores (see ``evaluate``).
        epoch: the epoch indices, ``[0, 1, ...]`` (as in Keras).
        steps: per optimizer step of this run (not kept in checkpoints): ``step`` (the step's number,
            counting from 1), ``loss`` and ``accuracy`` of that step's batch; ``val_step``, ``val_loss``,
            ``val_accuracy`` for each evaluation on ``val_loader`` (every ``eval_every`` steps and at the
            end of each epoch). ``plot`` draws these for runs shorter than two epochs.
    """

    def __init__(self, validation: bool = False):
        keys = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if validation else []) + ["lr", "time"]
        self.history: dict[str, list] = {key: [] for key in keys}
        self.steps: dict[str, list] = {
            key: [] for key in ("step", "loss", "accuracy", "val_step", "val_loss", "val_accuracy")
        }

    @property
    def epoch(self) -> list:
        return list(range(len(self)))

    def __len__(self) -> int:
        return len(self.history["loss"])

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"

    def plot(self, path, *, figsize=(10.0, 4.0), dpi: int = 100, val_label: str = "validation", per_step=None):
        """Save accuracy and loss curves as an image: two plots side by side, each with training and
        validation on the same axes.

        A run of two epochs or more is drawn per epoch. A shorter one would be a single dot, so it is drawn
        per optimizer step instead: the loss and accuracy of each training batch, and each evaluation on
        the validation data (``fit(..., eval_every=N)`` evaluates every N steps).

        Args:
            path: where to write; the format follows the extension (``.png`` for PNG).
            figsize: (width, height) in inches; the image is ``figsize * dpi`` pixels.
            dpi: pixels per inch.
            val_label: the legend's name for the held-out data (``"test"`` when ``val_loader`` was the test set).
            per_step: draw per step (True) or per epoch (False); default: per step below two epochs.

        Returns:
            ``path``.

        Needs matplotlib (``pip install ".[plot]"`` in a checkout); it draws with the Agg backend and does not
        touch pyplot's global state, so it works on servers without a display.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError as error:
            raise ImportError(
                'History.plot needs matplotlib: pip install ".[plot]" in a checkout of minicnn '
                "(or pip install matplotlib)"
            ) from error
        if len(self) == 0:
            raise ValueError("History.plot: nothing to plot yet (no epoch has finished)")
        if per_step is None:
            per_step = len(self) < 2 and len(self.steps["step"]) > 0
        figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(figure)  # attach the Agg renderer to this figure only
        epochs = np.arange(1, len(self) + 1)
        for axes, key in zip(figure.subplots(1, 2), ("accuracy", "loss")):
            if per_step:  # one batch per point: noisy, but a short run is more than one dot
                axes.plot(self.steps["step"], _floats(self.steps[key]), linewidth=1, label="train (each batch)")
                if self.steps["val_step"]:
                    steps, values = self.steps["val_step"], _floats(self.steps[f"val_{key}"])
                    axes.plot(steps, values, marker="o", label=val_label)
            else:
                axes.plot(epochs, _floats(self.history[key]), marker="o", label="train")
                if f"val_{key}" in self.history:
                    axes.plot(epochs, _floats(self.history[f"val_{key}"]), marker="o", label=val_label)
            axes.set_title(key.capitalize())
            axes.set_xlabel("optimizer step" if per_step else "epoch")
            axes.set_ylabel(key)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(alpha=0.3)
            axes.legend()
        figure.tight_layout()
        figure.savefig(path)
        return path


def _floats(values) -> np.ndarray:
    """Values to plot; None (an epoch without validation after a resume) becomes nan, a gap in the line."""
    return np.array([math.nan if value is None else value for value in values], dtype=np.float64)


# ---------------------------------------------------------------- batches and metrics


def _as_tensor(value, device) -> Tensor:
    """A batch field (minicnn tensor, NumPy/CuPy array, PyTorch tensor, list) as a tensor on ``device``."""
    if not isinstance(value, Tensor):
        if hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor, without importing torch
            value = value.detach().cpu().numpy()
        value = tensor(value)  # lists of ints are int64 class indices, as with torch.tensor
    return value if value.device == device else value.to(device)


def _split_batch(batch, device, caller: str):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        kind = f"a {type(batch).__name__}" + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
        raise ValueError(f"{caller}: expected each batch to be (inputs, targets), got {kind}")
    return _as_tensor(batch[0], device), _as_tensor(batch[1], device)


def _count_correct(outputs: Tensor, targets: Tensor):
    """(correct, scored): how many predictions have their largest score at the target class, out of how many
    (None if that is not defined). Per-pixel outputs (N, C, H, W) score N*H*W predictions.

    ``outputs`` are class scores of shape (N, C, ...); ``targets`` class indices of shape (N, ...),
    or one-hot / probability rows of the same shape as ``outputs``.
    """
    scores, labels = outputs.array, targets.array
    if scores.ndim < 2:
        return None
    predicted = scores.argmax(axis=1)
    if labels.shape == scores.shape and labels.dtype.kind == "f":
        labels = labels.argmax(axis=1)
    if labels.shape != predicted.shape or labels.dtype.kind not in "iub":
        return None
    return int((predicted == labels).sum()), int(labels.size)


class _Meter:
    """Running, sample-weighted averages of the loss and the accuracy over one pass."""

    def __init__(self):
        self.loss_sum, self.samples, self.correct, self.scored = 0.0, 0, 0, 0

    def add(self, loss_value: float, outputs: Tensor, targets: Tensor) -> float:
        """Count one batch; returns that batch's accuracy (nan when outputs are not class scores)."""
        count = outputs.shape[0] if outputs.ndim else 1
        self.loss_sum += loss_value * count
        self.samples += count
        counted = _count_correct(outputs, targets)
        if counted is None:
            return math.nan
        self.correct += counted[0]
        self.scored += counted[1]
        return counted[0] / counted[1] if counted[1] else math.nan

    @property
    def loss(self) -> float:
        return self.loss_sum / self.samples if self.samples else math.nan

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else math.nan


def _record_step_evaluation(history: History, step: int, evaluation) -> None:
    history.steps["val_step"].append(step)
    history.steps["val_loss"].append(float(evaluation[0]))
    history.steps["val_accuracy"].append(float(evaluation[1]))


def _loss_value(loss, caller: str) -> float:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"{caller}: loss_fn must return a one-element tensor (reduction='mean'), got {shape}")
    return float(loss.item())


def _resolve_device(model, device) -> backend.device:
    """``device`` (moving the model there), or the device the model's parameters are on."""
    if device is not None:
        device = backend.device(device)
        model.to(device)
        return device
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else backend.device("cpu")


# ---------------------------------------------------------------- evaluate


def evaluate(model, loader, loss_fn=None, device=None) -> Evaluation:
    """The mean loss and accuracy of ``model`` over ``loader``, in eval mode and without gradients.

    Args:
        model: a ``Module`` mapping inputs to class scores (logits) of shape (N, C).
        loader: an iterable of ``(inputs, targets)`` batches (a ``DataLoader``); minicnn tensors,
            NumPy arrays and PyTorch tensors are accepted.
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar mean; default ``F.cross_entropy``.
        device: where to run (the model is moved there); default: where the model's parameters are.

    Returns:
        ``Evaluation(loss, accuracy)``, a named tuple: ``loss, accuracy = evaluate(model, loader)``.
        Both are averaged over samples. Accuracy counts rows whose largest score is the target class
        (targets as class indices, or one-hot rows); it is ``nan`` when outputs are not class scores.

    The model's train/eval mode is restored afterwards.
    """
    loss_fn = cross_entropy if loss_fn is None else loss_fn
    device = _resolve_device(model, device)
    was_training = model.training
    meter = _Meter()
    model.eval()  # BatchNorm uses its running statistics, Dropout is off
    try:
        with no_grad():  # no graph: less memory, faster
            for batch in loader:
                inputs, targets = _split_batch(batch, device, "evaluate")
                outputs = model(inputs)
                meter.add(_loss_value(loss_fn(outputs, targets), "evaluate"), outputs, targets)
    finally:
        model.train(was_training)
    if meter.samples == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return Evaluation(meter.loss, meter.accuracy)


# ---------------------------------------------------------------- progress output


class _NoBar:
    """Stands in for a tqdm bar when the bar is off: every call does nothing."""

    disable = True

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def _progress_bar(progress: bool, total, description: str):
    if not progress:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: without it fit prints one line per epoch
        return _NoBar()
    # disable=None: tqdm turns itself off when stderr is not a terminal (logs, CI, pytest)
    return tqdm(total=total, desc=description, unit="batch", disable=None, leave=True, dynamic_ncols=True)


def _write_line(bar, line: str) -> None:
    """Print a log line without breaking the progress bar."""
    if bar.disable:
        print(line, flush=True)
    else:
        bar.write(line)


def _format_metrics(values: dict) -> str:
    """``loss 0.4123 - accuracy 0.8750 - lr 0.001 - time 1.2s``"""
    parts = []
    for key, value in values.items():
        if key == "lr":
            parts.append(f"lr {value:.3g}")
        elif key == "time":
            parts.append(f"time {value:.2f}s")
        else:
            parts.append(f"{key} {value:.4f}")
    return " - ".join(parts)


# ---------------------------------------------------------------- fit


def _non_finite_loss_error(loss_value: float, where: str, checkpoint, last_saved) -> FloatingPointError:
    saved = f"; '{checkpoint}' still holds epoch {last_saved}" if checkpoint is not None else ""
    return FloatingPointError(
        f"fit: the loss is {loss_value} at {where}. Training stopped before this step's backward() and "
        f"optimizer.step(), so the weights (and BatchNorm statistics) are those of the last good step{saved}. "
        "Try a lower learning rate, or check the data for inf/nan."
    )


def _check_count(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"fit: {name} must be a positive int{' or None' if allow_none else ''}, got {value!r}")


def fit(
    model,
    train_loader,
    *,
    optimizer,
    epochs: int,
    loss_fn=None,
    val_loader=None,
    scheduler=None,
    device=None,
    checkpoint=None,
    resume=None,
    progress: bool = True,
    max_steps: int | None = None,
    log_interval: int | None = None,
    verbose: bool = True,
    eval_every: int | None = None,
) -> History:
    """Train ``model`` on ``train_loader`` for ``epochs`` epochs; returns the per-epoch ``History``.

    Args:
        model: the ``Module`` to train (its train/eval mode is set by ``fit``).
        train_loader: an iterable of ``(inputs, targets)`` batches, e.g. a ``DataLoader``; minicnn
            tensors, NumPy arrays and PyTorch tensors are accepted and moved to ``device``.
        optimizer: the optimizer over the model's parameters.
        epochs: the total number of epochs, counting those a resumed run already did.
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar mean; default ``F.cross_entropy``
            (outputs are logits, targets class indices).
        val_loader: batches to evaluate on after every epoch (adds ``val_loss`` and ``val_accuracy``).
        scheduler: a learning-rate scheduler, stepped once after every epoch. ``ReduceLROnPlateau``
            is stepped with the validation loss (the training loss without ``val_loader``);
            ``OneCycleLR`` is defined per batch and is stepped after every optimizer step.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``: the model is moved there and every batch with
            it. Default: where the model's parameters already are.
        checkpoint: a file to save after every epoch (atomically, with ``minicnn.save``): model,
            optimizer and scheduler state, the epoch, the history and the random-number state.
        resume: a checkpoint written by ``fit`` to continue from: training restarts at the epoch
            after the saved one. ``resume=True`` resumes from ``checkpoint`` if that file exists and
            starts fresh otherwise. On the CPU a resumed run ends with exactly the weights of an
            uninterrupted one, shuffling and dropout included (the random state is saved); on the
            GPU, CuPy's dropout stream cannot be saved, so dropout masks differ after a resume.
        progress: show a tqdm progress bar per epoch with the running loss and accuracy. The bar
            also turns itself off when stderr is not a terminal (logs, CI).
        max_steps: stop after this many optimizer steps in total (counting a resumed run's), e.g. for
            smoke tests. The epoch it stops in is recorded, evaluated and saved as if complete.
        log_interval: also print a line with the running loss and accuracy every this many batches.
        verbose: print one summary line per epoch when the progress bar is off.
        eval_every: also evaluate on ``val_loader`` every this many optimizer steps, recorded in
            ``history.steps`` (for the per-step curves of a run shorter than two epochs).

    Returns:
        A ``History``; ``history.history`` holds per-epoch lists ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` (only with ``val_loader``), ``lr`` and ``time``.

    Raises:
        FloatingPointError: if a loss is inf or nan. It names the epoch and step and is raised before
            that step's ``backward`` and ``optimizer.step()``, so the weights keep the values of the
            last good step and the checkpoint of the last finished epoch stays intact.
    """
    _check_count("epochs", epochs)
    _check_count("max_steps", max_steps, allow_none=True)
    _check_count("log_interval", log_interval, allow_none=True)
    _check_count("eval_every", eval_every, allow_none=True)
    if eval_every is not None and val_loader is None:
        raise ValueError(
            f"fit: eval_every={eval_every} evaluates val_loader every few steps, but no val_loader was given"
        )
    if resume is True and checkpoint is None:
        raise ValueError("fit: resume=True resumes from `checkpoint`, but no checkpoint path was given")
    loss_fn = cross_entropy if loss_fn is None else loss_fn
    device = _resolve_device(model, device)
    history = History(validation=val_loader is not None)
    epochs_done, global_step, last_saved = 0, 0, None
    resume_path = checkpoint if resume is True else (resume or None)
    if resume_path is not None and not (resume is True and not os.path.exists(resume_path)):
        epochs_done, global_step = restore_checkpoint(resume_path, model, optimizer, scheduler, history, train_loader)
        last_saved = epochs_done if resume_path == checkpoint else None
    batch_scheduler = isinstance(scheduler, OneCycleLR)  # stepped per batch, the others per epoch
    dataset_size = len(train_loader.dataset) if hasattr(getattr(train_loader, "dataset", None), "__len__") else "?"

    for epoch in range(epochs_done, epochs):
        if max_steps is not None and global_step >= max_steps:
            break
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        total = len(train_loader) if hasattr(train_loader, "__len__") else None
        if total is not None and max_steps is not None:
            total = min(total, max_steps - global_step)
        bar = _progress_bar(progress, total, f"Epoch {epoch + 1}/{epochs}")
        bar_shown = not bar.disable  # (tqdm sets disable when the bar is closed)
        train, samples_seen = _Meter(), 0
        try:
            model.train()
            for step, batch in enumerate(train_loader, start=1):
                inputs, targets = _split_batch(batch, device, "fit")
                optimizer.zero_grad()
                # BatchNorm updates its running statistics during forward: keep a copy (they are small) to
                # put back if this batch's loss turns out not to be finite
                buffers_before = [(buffer, buffer.array.copy()) for buffer in model.buffers()]
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
                loss_value = _loss_value(loss, "fit")
                if not math.isfinite(loss_value):  # stop before backward/step can spread it into the weights
                    for buffer, array in buffers_before:
                        buffer.array = array
                    where = f"epoch {epoch + 1}, step {step} (optimizer step {global_step + 1} overall)"
                    raise _non_finite_loss_error(loss_value, where, checkpoint if last_saved else None, last_saved)
                loss.backward()
                optimizer.step()
                global_step += 1
                if batch_scheduler:
                    scheduler.step()
                batch_accuracy = train.add(loss_value, outputs, targets)
                for key, value in (("step", global_step), ("loss", loss_value), ("accuracy", batch_accuracy)):
                    history.steps[key].append(value)
                if eval_every is not None and val_loader is not None and global_step % eval_every == 0:
                    _record_step_evaluation(history, global_step, evaluate(model, val_loader, loss_fn, device))
                    model.train()
                samples_seen += inputs.shape[0]
                bar.update(1)
                if not bar.disable:
                    bar.set_postfix(loss=f"{train.loss:.4f}", accuracy=f"{train.accuracy:.4f}", refresh=False)
                if log_interval is not None and step % log_interval == 0:
                    _write_line(
                        bar,
                        f"epoch {epoch + 1}/{epochs} [{samples_seen}/{dataset_size}] "
                        f"loss {train.loss:.4f} - accuracy {train.accuracy:.4f}",
                    )
                if max_steps is not None and global_step >= max_steps:
                    break
            if train.samples == 0:
                raise ValueError("fit: train_loader yielded no batches")
            metrics = {"loss": train.loss, "accuracy": train.accuracy}
            if val_loader is not None and history.steps["val_step"][-1:] == [global_step]:  # just evaluated
                metrics["val_loss"], metrics["val_accuracy"] = (
                    history.steps["val_loss"][-1],
                    history.steps["val_accuracy"][-1],
                )
            elif val_loader is not None:
                metrics["val_loss"], metrics["val_accuracy"] = evaluate(model, val_loader, loss_fn, device)
                model.train()
                _record_step_evaluation(history, global_step, (metrics["val_loss"], metrics["val_accuracy"]))
            metrics["lr"], metrics["time"] = lr, time.perf_counter() - started
            if not bar.disable:
                bar.set_postfix({key: f"{value:.4f}" for key, value in metrics.items() if key not in ("lr", "time")})
        finally:
            bar.close()
        for key, values in history.history.items():
            values.append(metrics.get(key))  # None: validation keys kept from a resumed run without val_loader
        if isinstance(scheduler, ReduceLROnPlateau):  # it needs the metric it watches
            scheduler.step(metrics.get("val_loss", metrics["loss"]))
        elif scheduler is not None and not batch_scheduler:
            scheduler.step()
        if verbose and not bar_shown:
            print(f"epoch {epoch + 1}/{epochs}: {_format_metrics(metrics)}", file=sys.stdout, flush=True)
        if checkpoint is not None:
            save_checkpoint(checkpoint, epoch + 1, global_step, model, optimizer, scheduler, history, train_loader)
            last_saved = epoch + 1
    return history
