"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: call ``scheduler.step()`` once per epoch
(``OneCycleLR``: once per batch; ``ReduceLROnPlateau``: with the metric it watches)."""

from __future__ import annotations

import math

from .optimizer import Optimizer


def _is_nan(value) -> bool:
    """True for a float NaN (a NaN factor or bound would turn every later lr into NaN, silently)."""
    return isinstance(value, float) and math.isnan(value)


def _refuse_nan(owner: str, **values) -> None:
    for name, value in values.items():
        if _is_nan(value):
            raise ValueError(f"{owner}: {name} must not be NaN")


class LRScheduler:
    """Base class: keeps ``base_lrs`` and ``last_epoch``; subclasses give the lr of each group at ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        """The lrs for ``last_epoch``, computed from the groups' current lrs ("chainable", as PyTorch): so
        two schedulers stepped together compose, and a manual change of ``group['lr']`` is kept."""
        raise NotImplementedError

    def _closed_form(self) -> list:
        """The lrs at ``last_epoch`` straight from ``base_lrs`` (used by ``step(epoch)``)."""
        return self.get_lr()

    def _lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch=None):
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr() if epoch is None else self._closed_form()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return self._last_lr

    def state_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


_LRScheduler = LRScheduler


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not step_size > 0:  # written so that NaN is refused too
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        _refuse_nan("StepLR", gamma=gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones passed)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        _refuse_nan("MultiStepLR", gamma=gamma)
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)  # a milestone listed twice decays twice
        return [lr * self.gamma**hits for lr in self._lrs()]

    def _closed_form(self):
        passed = sum(1 for milestone in self.milestones if milestone <= self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        _refuse_nan("ExponentialLR", gamma=gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        _refuse_nan("CosineAnnealingLR", eta_min=eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        # PyTorch's recursive form: each step scales the distance to eta_min by the ratio of two cosines
        epoch, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return self._lrs()
        if (epoch - 1 - T_max) % (2 * T_max) == 0:  # past the trough the ratio is 0/0: step up explicitly
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                for lr, base in zip(self._lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * epoch / T_max)) / (1 + math.cos(math.pi * (epoch - 1) / T_max))
        return [eta_min + ratio * (lr - eta_min) for lr in self._lrs()]

    def _closed_form(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


def _lr_lambdas(optimizer, lr_lambda, scheduler: str) -> list:
    """One function per parameter group: a single function is shared by all groups."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
    groups = optimizer.param_groups
    functions = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * len(groups)
    if len(functions) != len(groups):
        raise ValueError(f"Expected {len(groups)} lr_lambdas, but got {len(functions)}")
    for function in functions:
        if not callable(function):
            raise TypeError(f"{scheduler}: lr_lambda should be a function, got {type(function).__name__}")
    return functions


class _LambdaScheduler(LRScheduler):
    """Shared by LambdaLR and MultiplicativeLR: the functions are not saved in ``state_dict`` (as PyTorch)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _lr_lambdas(optimizer, lr_lambda, type(self).__name__)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)  # code is not data: keep the functions you passed
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({key: value for key, value in state_dict.items() if key != "lr_lambdas"})


class LambdaLR(_LambdaScheduler):
    """lr = base_lr * lr_lambda(epoch), e.g. ``LambdaLR(optimizer, lambda epoch: 0.95 ** epoch)``."""

    def get_lr(self):
        return [base * function(self.last_epoch) for base, function in zip(self.base_lrs, self.lr_lambdas)]


class MultiplicativeLR(_LambdaScheduler):
    """lr = previous lr * lr_lambda(epoch), from the first ``step()`` on."""

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch <= 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * function(self.last_epoch) for group, function in zip(groups, self.lr_lambdas)]


class LinearLR(LRScheduler):
    """Warm-up: the factor on base_lr goes linearly from start_factor to end_factor over total_iters steps.

    lr = base_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters).
    """

    def __init__(
        self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5, last_epoch=-1
    ):
        if not 0 < start_factor <= 1.0:  # written so that NaN is refused too
            raise ValueError(
                f"LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1, "
                f"got {start_factor}"
            )
        if not 0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: Ending multiplicative factor expected to be between 0 and 1, got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        start, end, total = self.start_factor, self.end_factor, self.total_iters
        if self.last_epoch == 0:
            return [lr * start for lr in self._lrs()]
        if self.last_epoch > total:
            return self._lrs()
        # the ratio of this step's factor to the previous one
        step = 1 + (end - start) / (total * start + (self.last_epoch - 1) * (end - start))
        return [lr * step for lr in self._lrs()]

    def _closed_form(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """Warm up from max_lr/div_factor to max_lr, then anneal to max_lr/(div_factor*final_div_factor); per batch.

    With ``cycle_momentum`` the momentum (or Adam's beta1) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``.
    """

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps=None,
        epochs=None,
        steps_per_epoch=None,
        pct_start=0.3,
        anneal_strategy="cos",
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        last_epoch=-1,
    ):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be positive, got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if value == 0 or _is_nan(value):  # the lrs are max_lr / div_factor (/ final_div_factor)
                raise ValueError(f"OneCycleLR: {name} must be a non-zero number, got {value}")
        for name, value in (("max_lr", max_lr), ("base_momentum", base_momentum), ("max_momentum", max_momentum)):
            if any(_is_nan(v) for v in (value if isinstance(value, (list, tuple)) else [value])):
                raise ValueError(f"OneCycleLR: {name} must not be NaN, got {value}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy  # a name, not a function: state_dict stays plain data
        max_lrs = max_lr if isinstance(max_lr, (list, tuple)) else [max_lr] * len(optimizer.param_groups)
        end = float(pct_start * total_steps) - 1
        if three_phase:
            self.phases = [
                (end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self.phases = [
                (end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self.cycle_momentum = cycle_momentum
        for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
            if last_epoch == -1:
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                self.use_beta1 = "betas" in optimizer.defaults
                if not self.use_beta1 and "momentum" not in optimizer.defaults:
                    raise ValueError("OneCycleLR: optimizer must support momentum or betas with cycle_momentum")
                group["max_momentum"], group["base_momentum"] = max_momentum, base_momentum
                if last_epoch == -1:
                    self._set_momentum(group, max_momentum)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def anneal(self, start, end, fraction):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times, but total_steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, (end_step, lr_from, lr_to, momentum_from, momentum_to) in enumerate(self.phases):
                if step <= end_step or i == len(self.phases) - 1:
                    fraction = (step - start_step) / (end_step - start_step)
                    lr = self.anneal(group[lr_from], group[lr_to], fraction)
                    if self.cycle_momentum:
                        self._set_momentum(group, self.anneal(group[momentum_from], group[momentum_to], fraction))
                    break
                start_step = end_step
            lrs.append(lr)
        return lrs


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when a watched metric has not improved for ``patience`` epochs."""

    def __init__(
        self,
        optimizer,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0,
        eps=1e-8,
    ):
        if not factor < 1.0:  # written so that NaN is refused too
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        for name, value in (("threshold", threshold), ("eps", eps), ("min_lr", min_lr)):
            if any(_is_nan(v) for v in (value if isinstance(value, (list, tuple)) else [value])):
                raise ValueError(f"ReduceLROnPlateau: {name} must not be NaN, got {value}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown")
        self.optimizer = optimizer
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(optimizer.param_groups)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, current, best):
        if self.mode == "min":
            return (
                current < best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else current < best - self.threshold
            )
        return (
            current > best * (self.threshold + 1) if self.threshold_mode == "rel" else current > best + self.threshold
        )

    def step(self, metrics, epoch=None):
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return self._last_lr

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
