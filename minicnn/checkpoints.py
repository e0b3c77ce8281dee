"""The checkpoints of ``fit``: what one holds, writing it, and resuming from it without half-applying it.

A checkpoint is one safetensors file (``minicnn.save``) holding the model, optimizer and scheduler state,
the History so far, and the state of every random stream the next epoch draws from, so that a resumed
run ends with exactly the weights of an uninterrupted one (on the CPU).
"""

from __future__ import annotations

import copy

import numpy as np

from . import backend
from .nn.parameter import is_lazy
from .serialization import load, save


def _loader_rng(loader):
    """The NumPy generator that shuffles ``loader``, if it has its own (a minicnn or NumPy Generator)."""
    generator = getattr(loader, "generator", None)
    generator = getattr(generator, "numpy_generator", generator)
    return generator if isinstance(generator, np.random.Generator) else None


def _random_state(loader) -> dict:
    """Everything random that the next epoch will draw from, as JSON-able dicts."""
    loader_rng = _loader_rng(loader)
    return {
        # minicnn's CPU stream: dropout masks, and shuffling when the loader has no generator of its own
        "minicnn": backend.cpu_generator().bit_generator.state,
        "loader": loader_rng.bit_generator.state if loader_rng is not None else None,
    }


def save_checkpoint(path, epochs_done, global_step, model, optimizer, scheduler, history, loader) -> None:
    scheduler_state = None
    if scheduler is not None:
        # drop functions (OneCycleLR keeps its annealing function): the constructor recreates them
        scheduler_state = {key: value for key, value in scheduler.state_dict().items() if not callable(value)}
    save(
        {
            "kind": "minicnn.fit",
            "epoch": epochs_done,
            "global_step": global_step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler_state,
            "history": history.history,
            "random_state": _random_state(loader),
        },
        path,
    )


def restore_checkpoint(path, model, optimizer, scheduler, history, loader) -> tuple[int, int]:
    """Load a ``fit`` checkpoint into the objects; returns (epochs done, optimizer steps done).

    Every part is checked against the objects before any is applied, and what is applied is undone if
    applying still fails: a refused resume leaves the model, optimizer, scheduler and random streams as
    they were.
    """
    state = load(path)
    if not isinstance(state, dict) or state.get("kind") != "minicnn.fit":
        raise ValueError(f"fit: '{path}' is not a checkpoint written by fit (use minicnn.load for other files)")
    if (state.get("scheduler") is None) != (scheduler is None):
        has = "has" if state.get("scheduler") is not None else "has no"
        raise ValueError(f"fit: '{path}' {has} scheduler state, but fit was called with scheduler={scheduler!r}")
    problem = _resume_problem(state, model, optimizer, scheduler, _loader_rng(loader))
    if problem:
        raise ValueError(f"fit: cannot resume from '{path}': {problem}; nothing was changed")
    undo = _snapshot(model, optimizer, scheduler, loader)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        random_state = state["random_state"]
        backend.cpu_generator().bit_generator.state = random_state["minicnn"]
        loader_rng = _loader_rng(loader)
        if loader_rng is not None and random_state["loader"] is not None:
            loader_rng.bit_generator.state = random_state["loader"]
    except BaseException:
        undo()
        raise
    for key, values in state["history"].items():
        history.history[key] = list(values)
    for key in history.history:  # validation added on resume: earlier epochs have no value
        history.history[key] += [None] * (len(history.history["loss"]) - len(history.history[key]))
    return state["epoch"], state["global_step"]


def _resume_problem(state: dict, model, optimizer, scheduler, loader_rng) -> str | None:
    """What stops ``state`` from being applied to these objects, or None: every check, before any change."""
    for key, kind in (("model", dict), ("optimizer", dict), ("history", dict), ("random_state", dict)):
        if not isinstance(state.get(key), kind):
            return f"its '{key}' entry is missing or not a {kind.__name__}"
    for key in ("epoch", "global_step"):
        if not isinstance(state.get(key), int) or isinstance(state[key], bool) or state[key] < 0:
            return f"its '{key}' entry is not a non-negative int"
    own = {key: value for key, value in model.state_dict().items() if not is_lazy(value)}  # a placeholder: any shape
    saved = state["model"]
    every_key = model.state_dict()
    missing, unexpected = [k for k in every_key if k not in saved], [k for k in saved if k not in every_key]
    if missing or unexpected:
        return f"the model's keys differ (missing {missing[:5]}, unexpected {unexpected[:5]})"
    for key, value in own.items():
        if tuple(np.shape(saved[key])) != tuple(value.shape):
            return f"the model's {key} has shape {tuple(value.shape)}, the checkpoint's {tuple(np.shape(saved[key]))}"
    problem = _optimizer_problem(state["optimizer"], optimizer)
    if problem:
        return problem
    if scheduler is not None:
        saved_keys, own_keys = set(state["scheduler"]), set(scheduler.state_dict())
        if not saved_keys <= own_keys:
            return f"the scheduler state has keys {sorted(saved_keys - own_keys)} that {type(scheduler).__name__} lacks"
    history = state["history"]
    if "loss" not in history or not all(isinstance(v, list) for v in history.values()):
        return "its history is not a dict of per-epoch lists with a 'loss' entry"
    if len({len(values) for values in history.values()}) != 1 or len(history["loss"]) != state["epoch"]:
        return "its history lists have different lengths or do not match its epoch count"
    random_state = state["random_state"]
    try:  # set the saved states on throwaway generators of the same kinds
        type(backend.cpu_generator().bit_generator)().state = random_state["minicnn"]
        if random_state.get("loader") is not None and loader_rng is not None:
            type(loader_rng.bit_generator)().state = random_state["loader"]
    except (KeyError, TypeError, ValueError) as error:
        return f"its random_state cannot be restored ({type(error).__name__}: {error})"
    return None


def _optimizer_problem(saved: dict, optimizer) -> str | None:
    """What stops ``optimizer.load_state_dict(saved)``: group sizes, parameter indices, state shapes."""
    groups, states = saved.get("param_groups"), saved.get("state")
    if not isinstance(groups, list) or not isinstance(states, dict):
        return "the optimizer state has no 'param_groups' list and 'state' dict"
    if len(groups) != len(optimizer.param_groups):
        return f"the optimizer state has {len(groups)} parameter groups, the optimizer {len(optimizer.param_groups)}"
    param_of = {}
    for i, (group, own) in enumerate(zip(groups, optimizer.param_groups)):
        if not isinstance(group, dict) or len(group.get("params", ())) != len(own["params"]):
            size = len(group.get("params", ())) if isinstance(group, dict) else "?"
            return f"the optimizer state's group {i} has {size} parameters, the optimizer's {len(own['params'])}"
        param_of.update(zip(group["params"], own["params"]))
    for index, values in states.items():
        if int(index) not in param_of or not isinstance(values, dict):
            return f"the optimizer state names parameter {index}, which no group holds"
        if is_lazy(param_of[int(index)]):  # a placeholder takes its shape from the checkpoint
            continue
        shape = tuple(param_of[int(index)].shape)
        for key, value in values.items():
            if np.ndim(value) and tuple(np.shape(value)) != shape:
                return (
                    f"the optimizer's {key} for parameter {index} has shape {tuple(np.shape(value))}, "
                    f"the parameter {shape}"
                )
    return None


def _snapshot(model, optimizer, scheduler, loader):
    """A function that puts the model, optimizer, scheduler and random streams back as they are now."""
    arrays = {key: value.array.copy() for key, value in model.state_dict(keep_vars=True).items() if not is_lazy(value)}
    groups = [{k: copy.deepcopy(v) for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    optimizer_state = dict(optimizer.state)  # load_state_dict replaces the dict, never the arrays in it
    scheduler_state = copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None
    cpu_state = backend.cpu_generator().bit_generator.state
    loader_rng = _loader_rng(loader)
    loader_state = loader_rng.bit_generator.state if loader_rng is not None else None

    def undo() -> None:
        for key, value in model.state_dict(keep_vars=True).items():
            if key in arrays and not is_lazy(value):
                value.array[...] = arrays[key]
        for group, saved in zip(optimizer.param_groups, groups):
            group.update(saved)
        optimizer.state = optimizer_state
        if scheduler is not None:  # (its own loader: LambdaLR keeps its functions, which a state dict lacks)
            scheduler.load_state_dict(scheduler_state)
        backend.cpu_generator().bit_generator.state = cpu_state
        if loader_rng is not None:
            loader_rng.bit_generator.state = loader_state

    return undo
