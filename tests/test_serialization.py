"""minicnn.serialization: safetensors checkpoints that round-trip exactly, are written atomically,
refuse pickles and damaged files, and interoperate with PyTorch's safetensors files."""

import io
import json
import math
import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import minicnn
from minicnn import nn
from minicnn.serialization import CheckpointError, load, save
from tests.helpers import DEVICES, require_torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_model():
    minicnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 4))


def trained_optimizer(model, steps=2):
    optimizer = minicnn.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    inputs = minicnn.tensor(np.random.default_rng(0).standard_normal((4, 1, 5, 5)).astype(np.float32))
    for _ in range(steps):
        optimizer.zero_grad()
        model(inputs).square().mean().backward()
        optimizer.step()
    return optimizer


def assert_same(loaded, original):
    """Deep equality: same container types, same key types, tensors equal in dtype, shape and values."""
    if isinstance(original, (minicnn.Tensor, np.ndarray)):
        assert isinstance(loaded, minicnn.Tensor) and loaded.device == minicnn.device("cpu")
        expected = np.asarray(original.detach() if isinstance(original, minicnn.Tensor) else original)
        assert loaded.dtype == expected.dtype and loaded.shape == expected.shape
        np.testing.assert_array_equal(loaded.numpy(), expected)
    elif isinstance(original, dict):
        assert type(loaded) is type(original)
        assert list(loaded) == list(original) and [type(k) for k in loaded] == [type(k) for k in original]
        for key in original:
            assert_same(loaded[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original):
            assert_same(a, b)
    elif isinstance(original, float) and math.isnan(original):
        assert isinstance(loaded, float) and math.isnan(loaded)
    else:
        assert type(loaded) is type(original) and loaded == original


def round_trip(obj, tmp_path, name="checkpoint.safetensors"):
    path = tmp_path / name
    save(obj, path)
    return load(path)


# ---------------------------------------------------------------- round trips


def test_state_dict_round_trip_keeps_flat_keys_and_loads_into_a_model(tmp_path):
    model = small_model()
    state = model.state_dict()
    loaded = round_trip(state, tmp_path)
    assert_same(loaded, state)
    # a flat state dict keeps its keys in the file, unchanged: other safetensors readers see them
    raw = safetensors.numpy.load_file(tmp_path / "checkpoint.safetensors")
    assert set(raw) == set(state) and "1.running_var" in raw
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(18, 4))
    other.load_state_dict(loaded)
    inputs = minicnn.randn(3, 1, 5, 5)
    np.testing.assert_array_equal(other.eval()(inputs).detach().numpy(), model.eval()(inputs).detach().numpy())


def test_optimizer_state_dict_round_trip_continues_identically(tmp_path):
    model = small_model()
    optimizer = trained_optimizer(model)
    state = optimizer.state_dict()
    loaded = round_trip(state, tmp_path)
    assert_same(loaded, state)
    assert list(loaded["state"]) == [0, 1, 2, 3, 4, 5]  # int keys stay ints
    assert loaded["param_groups"][0]["betas"] == (0.8, 0.99)  # tuples stay tuples
    assert loaded["state"][0]["step"] == 2 and type(loaded["state"][0]["step"]) is int
    # a copy of the model with the loaded optimizer state takes the same next step as the original
    twin = small_model()
    twin.load_state_dict(model.state_dict())
    twin_optimizer = minicnn.optim.Adam(twin.parameters(), lr=0.01, betas=(0.8, 0.99))
    twin_optimizer.load_state_dict(loaded)
    inputs = minicnn.ones(2, 1, 5, 5)
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        opt.zero_grad()
        net(inputs).square().mean().backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_nested_checkpoint_with_plain_values_round_trips(tmp_path):
    model = small_model()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": trained_optimizer(model).state_dict(),
        "epoch": 3,
        "big": 2**100,
        "name": "seed cnn / run.1",
        "flags": [True, False, None],
        "floats": [0.1, -2.5, math.inf, -math.inf, math.nan, 1e-300],
        "pair": (1, "two", (3.0, None)),
        "empty": {"list": [], "tuple": (), "dict": {}},
        "keys": {0: "int", 1.5: "float", True: "bool", None: "none", "0": "str"},
        "history": {"loss": [0.9, 0.5], "val_accuracy": [0.8, 0.9]},
        "array": np.arange(6, dtype=np.int64).reshape(2, 3),
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
    }
    assert_same(round_trip(checkpoint, tmp_path), checkpoint)


def test_numpy_scalars_come_back_as_python_numbers(tmp_path):
    loaded = round_trip({"f": np.float32(1.5), "i": np.int64(7), "b": np.bool_(True), np.int64(2): "key"}, tmp_path)
    assert loaded == {"f": 1.5, "i": 7, "b": True, 2: "key"}
    assert [type(v) for v in loaded.values()] == [float, int, bool, str]


@pytest.mark.parametrize(
    "dtype",
    ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16", "bool", "complex64"],
)
def test_dtypes_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((3, 4)) * 50).astype(dtype) if dtype != "bool" else rng.random((3, 4)) > 0.5
    loaded = round_trip({"x": values, "scalar": values[1, 2, ...]}, tmp_path)
    assert_same(loaded, {"x": values, "scalar": values[1, 2, ...]})
    assert loaded["scalar"].shape == ()  # 0-d stays 0-d


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.T,  # transposed (F-ordered)
        lambda a: a[:, ::2],  # strided slice
        lambda a: a[::-1],  # negative stride
        lambda a: np.broadcast_to(a[:1], a.shape),  # zero stride
        lambda a: a.astype(">f4"),  # big-endian
        lambda a: a[:0],  # no elements
    ],
    ids=["transposed", "strided", "reversed", "broadcast", "big-endian", "empty"],
)
def test_non_contiguous_and_unusual_arrays_round_trip(tmp_path, make):
    array = make(np.arange(24, dtype=np.float32).reshape(4, 6))
    loaded = round_trip({"a": array, "t": minicnn.tensor(array)}, tmp_path)
    for value in loaded.values():
        assert value.shape == array.shape
        np.testing.assert_array_equal(value.numpy(), array)
        assert value.numpy().flags.writeable


def test_keys_with_dots_and_slashes_are_unambiguous(tmp_path):
    first, second, third = (np.full(2, value, np.float32) for value in (1, 2, 3))
    obj = {"a/b": first, "a": {"b": second}, "a.b": third, "__metadata__": first, "": second}
    assert_same(round_trip(obj, tmp_path), obj)


def test_top_level_tensor_and_plain_values(tmp_path):
    assert_same(round_trip(minicnn.arange(5), tmp_path), minicnn.arange(5))
    assert round_trip(42, tmp_path) == 42
    assert round_trip(None, tmp_path) is None
    assert round_trip([1, (2,)], tmp_path) == [1, (2,)]


def test_file_objects_and_path_like(tmp_path):
    buffer = io.BytesIO()
    save({"w": minicnn.ones(2)}, buffer)
    buffer.seek(0)
    assert_same(load(buffer), {"w": minicnn.ones(2)})
    save({"epoch": 1}, str(tmp_path / "a.safetensors"))
    assert load(tmp_path / "a.safetensors") == {"epoch": 1}
    assert load(str(tmp_path / "a.safetensors"), map_location="cpu", weights_only=True) == {"epoch": 1}


@pytest.mark.parametrize("device", DEVICES)
def test_tensors_on_any_device_are_saved_and_load_on_the_cpu(tmp_path, device):
    model = small_model().to(device)
    loaded = round_trip(model.state_dict(), tmp_path)
    for key, value in model.state_dict().items():
        assert loaded[key].device == minicnn.device("cpu")
        np.testing.assert_array_equal(loaded[key].numpy(), value.cpu().numpy())
    if device == "cuda":  # raw CuPy arrays too
        assert_same(round_trip({"x": minicnn.ones(3, device="cuda").array}, tmp_path), {"x": np.ones(3, np.float32)})


@pytest.mark.parametrize(
    "obj, error, match",
    [
        ({"f": print}, TypeError, r"cannot store a builtin_function_or_method \(at f\)"),
        ({"s": {1, 2}}, TypeError, r"cannot store a set \(at s\)"),
        ({"deep": [{"x": object()}]}, TypeError, r"at deep/0/x"),
        ({"o": np.array([1, "a"], dtype=object)}, TypeError, r"dtype object cannot be stored \(at o\)"),
        ({(1, 2): 3}, TypeError, r"dict keys must be str, int, float, bool or None; got a tuple key"),
    ],
)
def test_unstorable_values_raise_before_touching_the_file(tmp_path, obj, error, match):
    path = tmp_path / "old.safetensors"
    save({"keep": 1}, path)
    with pytest.raises(error, match=match):
        save(obj, path)
    assert load(path) == {"keep": 1} and os.listdir(tmp_path) == ["old.safetensors"]


def test_self_containing_object_is_refused(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save({"loop": loop}, tmp_path / "x.safetensors")
    shared = [1, 2]  # the same list twice is fine: it is not a cycle
    assert round_trip({"a": shared, "b": shared}, tmp_path) == {"a": [1, 2], "b": [1, 2]}


# ---------------------------------------------------------------- refusing bad files


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    model = small_model()
    save({"model": model.state_dict(), "optimizer": trained_optimizer(model).state_dict(), "epoch": 2}, path)
    return path


def write_bytes(tmp_path, data, name="bad.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_refused(path, match):
    """load(path) raises CheckpointError naming the file, and changes nothing on disk."""
    before = (path.read_bytes(), sorted(os.listdir(path.parent)))
    with pytest.raises(CheckpointError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)
    assert (path.read_bytes(), sorted(os.listdir(path.parent))) == before
    return info.value


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file: '.*nothing.safetensors'"):
        load(tmp_path / "nothing.safetensors")


def test_empty_file_is_refused(tmp_path):
    assert_refused(write_bytes(tmp_path, b""), "the file is empty")


def test_plain_pickle_is_refused(tmp_path):
    for protocol in (2, 3, 4, 5):
        path = write_bytes(tmp_path, pickle.dumps({"w": [1.0, 2.0]}, protocol=protocol))
        assert_refused(path, "it is a pickle .* minicnn never unpickles")
    # protocol 0 has no marker byte; it is still refused (it is not safetensors)
    assert_refused(write_bytes(tmp_path, pickle.dumps({"w": 1}, protocol=0)), "not a valid checkpoint")


class _CreatesAFileWhenUnpickled:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))  # unpickling calls open(target, 'w'): the file appears


def test_malicious_pickle_is_never_executed(tmp_path):
    # control: this payload really does create a file when unpickled
    control = tmp_path / "control-was-created"
    pickle.loads(pickle.dumps(_CreatesAFileWhenUnpickled(str(control)))).close()
    assert control.exists()

    target = tmp_path / "pwned"
    for protocol in (2, 4, 5):
        payload = pickle.dumps({"state": _CreatesAFileWhenUnpickled(str(target))}, protocol=protocol)
        assert_refused(write_bytes(tmp_path, payload), "never unpickles")
        assert not target.exists()


def test_torch_save_files_are_refused(tmp_path):
    torch = require_torch()
    state = {"w": torch.ones(2)}
    zipped = tmp_path / "model.pt"
    torch.save(state, zipped)
    assert_refused(zipped, "zip archive, as torch.save writes .* never unpickles")
    legacy = tmp_path / "legacy.pt"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    assert_refused(legacy, "pickle .* never unpickles")


def test_a_header_length_that_starts_like_a_pickle_is_not_mistaken_for_one(tmp_path):
    # a 640-byte header is written as 80 02 00 .. 00, the same first two bytes as a protocol-2 pickle
    for padding in range(600):  # find the padding that makes the header 640 bytes long
        buffer = io.BytesIO()
        save({"w": np.ones(3, np.float32), "note": "x" * padding}, buffer)
        if buffer.getvalue()[:2] == b"\x80\x02":
            break
    path = write_bytes(tmp_path, buffer.getvalue())
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert load(path)["note"] == "x" * padding


def test_other_formats_are_named(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    assert_refused(write_bytes(tmp_path, buffer.getvalue()), r"NumPy \.npy file")
    assert_refused(write_bytes(tmp_path, b"\x89HDF\r\n\x1a\n" + bytes(100)), "HDF5")


def test_truncated_files_are_refused(tmp_path, good_file):
    data = good_file.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for length in [1, 7, 8, 9, 100, header_end - 1, header_end, header_end + 1, len(data) - 1]:
        assert_refused(write_bytes(tmp_path, data[:length]), "not a valid checkpoint")


def test_every_bit_flip_in_the_header_is_detected(tmp_path, good_file):
    data = good_file.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    undetected = []
    for byte in range(header_end):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[byte] ^= 1 << bit
            try:
                load(io.BytesIO(bytes(damaged)))
                undetected.append((byte, bit))
            except CheckpointError:
                pass
    assert not undetected, f"bit flips loaded without error at (byte, bit) {undetected[:10]}"


def test_bit_flips_in_the_data_are_detected(tmp_path, good_file):
    data = good_file.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    for position in rng.integers(header_end, len(data), size=40):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        assert_refused(write_bytes(tmp_path, bytes(damaged)), "checksum mismatch")


def test_random_bytes_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    for size in (3, 8, 64, 5000):
        assert_refused(write_bytes(tmp_path, rng.bytes(size)), "not a valid checkpoint")
    # random bytes behind a plausible header length
    assert_refused(write_bytes(tmp_path, (100).to_bytes(8, "little") + rng.bytes(200)), "not a valid checkpoint")


def test_headers_that_lie_about_sizes_are_refused(tmp_path, good_file):
    data = good_file.read_bytes()
    header_size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_size])
    # the length prefix claims more than the file holds
    assert_refused(write_bytes(tmp_path, (2**40).to_bytes(8, "little") + data[8:]), "header claims")
    # a tensor's byte range reaches past the data
    name = next(key for key in header if key != "__metadata__")
    header[name]["data_offsets"][1] += 10**6
    lying = json.dumps(header).encode()
    assert_refused(write_bytes(tmp_path, len(lying).to_bytes(8, "little") + lying + data[8 + header_size :]), "damaged")
    # extra bytes after the last tensor
    assert_refused(write_bytes(tmp_path, data + b"\0" * 16), "damaged or truncated")


def forged(tmp_path, structure, arrays=None, **overrides):
    """A file with a correct checksum but a structure of our choosing (what a malicious author could write)."""
    from minicnn import serialization

    arrays = arrays or {}
    structure_json = structure if isinstance(structure, str) else json.dumps(structure)
    metadata = {
        "minicnn.format": "1",
        "minicnn.structure": structure_json,
        "minicnn.crc32": f"{serialization._checksum(structure_json, arrays):08x}",
        **overrides,
    }
    return write_bytes(tmp_path, safetensors.numpy.save(arrays, metadata=metadata), "forged.safetensors")


def test_forged_structures_are_refused(tmp_path):
    assert_refused(forged(tmp_path, {"tensor": "missing"}), "malformed structure metadata .*KeyError")
    assert_refused(forged(tmp_path, {"exec": "print(1)"}), "unknown node type 'exec'")
    assert_refused(forged(tmp_path, {"dict": [[{"list": []}, 1]]}), "malformed structure")  # unhashable key
    deep = '{"list":[' * 100_000 + "1" + "]}" * 100_000  # nested far deeper than Python's recursion limit
    assert_refused(forged(tmp_path, deep), "malformed structure metadata .*RecursionError")
    assert load(forged(tmp_path, '{"list":[' * 50 + "1" + "]}" * 50)) == json.loads("[" * 50 + "1" + "]" * 50)
    assert_refused(forged(tmp_path, 1, **{"minicnn.format": "99"}), "unknown minicnn format version '99'")


def test_incomplete_minicnn_metadata_is_refused(tmp_path):
    data = safetensors.numpy.save({"w": np.ones(2)}, metadata={"minicnn.structure": '{"tensor": "w"}'})
    assert_refused(write_bytes(tmp_path, data), "metadata is incomplete")


# ---------------------------------------------------------------- atomic writes


def temp_files(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync", "write", "interrupt"])
def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "ck.safetensors"
    save({"epoch": 1, "w": minicnn.zeros(1000)}, path)
    old_bytes = path.read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt if failing == "interrupt" else OSError(28, "No space left on device")

    if failing in ("os.replace", "interrupt"):
        monkeypatch.setattr(os, "replace", fail)
    elif failing == "os.fsync":
        monkeypatch.setattr(os, "fsync", fail)
    else:  # the write itself fails half-way, as on a full disk
        real_fdopen = os.fdopen

        class HalfWriter(io.FileIO):
            def write(self, data):
                super().write(bytes(data)[: len(data) // 2])
                fail()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(fd, "wb") if "w" in mode else real_fdopen(fd))
    with pytest.raises(KeyboardInterrupt if failing == "interrupt" else OSError):
        save({"epoch": 2, "w": minicnn.ones(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes and load(path)["epoch"] == 1
    assert temp_files(tmp_path) == []


def test_new_files_get_normal_permissions_and_old_ones_keep_theirs(tmp_path):
    path = tmp_path / "ck.safetensors"
    save({"a": 1}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    os.chmod(path, 0o640)
    save({"a": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and load(path) == {"a": 2}


def test_missing_folder_raises_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        save({"a": 1}, tmp_path / "no" / "such" / "ck.safetensors")
    assert os.listdir(tmp_path) == []


CHILD = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from minicnn.serialization import save

    path, mode = sys.argv[1], sys.argv[2]
    big = {"w": np.full(4_000_000, 2.0, np.float32), "epoch": 2}  # 16 MB
    if mode == "pause-before-fsync":  # hold still inside save, with the temporary file written
        real_fsync = os.fsync
        def announce_and_wait(fd):
            print("writing", flush=True)
            time.sleep(60)
            real_fsync(fd)
        os.fsync = announce_and_wait
        save(big, path)
    else:  # save over and over, until killed at a random moment
        print("writing", flush=True)
        while True:
            save(big, path)
    """
)


def run_child_and_kill(path, mode, delay):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"writing\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def test_sigkill_during_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "ck.safetensors"
    save({"w": np.ones(4_000_000, np.float32), "epoch": 1}, path)
    old_bytes = path.read_bytes()
    run_child_and_kill(path, "pause-before-fsync", delay=0.2)
    assert path.read_bytes() == old_bytes and load(path)["epoch"] == 1
    # the killed save's temporary file stays behind (nothing can clean up after SIGKILL), fully written;
    # load never reads it: it reads only the path it is given
    leftovers = temp_files(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".ck.safetensors.")
    save({"epoch": 3}, path)  # later saves still work next to it
    assert load(path) == {"epoch": 3}


def test_sigkill_at_a_random_moment_leaves_a_whole_file(tmp_path):
    path = tmp_path / "ck.safetensors"
    save({"w": np.ones(4_000_000, np.float32), "epoch": 1}, path)
    run_child_and_kill(path, "loop", delay=float(np.random.default_rng().uniform(0.05, 0.4)))
    loaded = load(path)  # the old file or a new one, never a torn one
    assert loaded["epoch"] in (1, 2)
    np.testing.assert_array_equal(loaded["w"].numpy(), np.full(4_000_000, loaded["epoch"], np.float32))
    assert len(temp_files(tmp_path)) <= 1


# ---------------------------------------------------------------- PyTorch interop


def torch_twin(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.BatchNorm2d(2), tnn.ReLU(), tnn.Flatten(), tnn.Linear(18, 4))


def test_file_written_by_pytorch_loads_into_a_minicnn_model(tmp_path):
    torch = require_torch()
    import safetensors.torch

    torch.manual_seed(0)
    theirs = torch_twin(torch)
    theirs.train()(torch.randn(8, 1, 5, 5))  # move BatchNorm's running statistics away from their defaults
    theirs.eval()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), path, metadata={"format": "pt"})
    loaded = load(path)
    assert set(loaded) == set(theirs.state_dict()) and loaded["1.num_batches_tracked"].dtype == np.int64
    ours = small_model()
    ours.load_state_dict(loaded)
    inputs = np.random.default_rng(0).standard_normal((3, 1, 5, 5)).astype(np.float32)
    expected = theirs(torch.from_numpy(inputs)).detach().numpy()
    np.testing.assert_allclose(ours.eval()(minicnn.tensor(inputs)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_pytorch_bfloat16_widens_exactly_to_float32(tmp_path):
    torch = require_torch()
    import safetensors.torch

    values = torch.randn(5, 3).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": values}, path)
    loaded = load(path)["w"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.numpy(), values.float().numpy())


def test_minicnn_file_loads_in_pytorch(tmp_path):
    torch = require_torch()
    import safetensors.torch

    ours = small_model()
    trained_optimizer(ours)  # change the weights from their initial values
    path = tmp_path / "ours.safetensors"
    save(ours.state_dict(), path)
    theirs = torch_twin(torch)
    theirs.load_state_dict(safetensors.torch.load_file(path))
    inputs = np.random.default_rng(0).standard_normal((3, 1, 5, 5)).astype(np.float32)
    expected = ours.eval()(minicnn.tensor(inputs)).detach().numpy()
    np.testing.assert_allclose(theirs.eval()(torch.from_numpy(inputs)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_torch_tensors_can_be_saved_directly(tmp_path):
    torch = require_torch()
    state = {"w": torch.arange(6.0).reshape(2, 3).t(), "n": torch.tensor(3)}
    loaded = round_trip(state, tmp_path)
    np.testing.assert_array_equal(loaded["w"].numpy(), state["w"].numpy())
    assert loaded["n"].dtype == np.int64 and loaded["n"].item() == 3


# ---------------------------------------------------------------- bounded memory on bogus files

_LOAD_UNDER_A_MEMORY_LIMIT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import minicnn
    from minicnn.serialization import CheckpointError
    with open("/proc/self/status") as status:
        in_use = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    limit = in_use + 192 * 2**20  # room for a few MB of work, nowhere near the files' sizes
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:  # control: the limit really stops a large allocation (reading a whole file would fail too)
        np.ones(2**28, np.uint8)
        print("LIMIT NOT ENFORCED")
    except MemoryError:
        pass
    for path in sys.argv[1:]:
        try:
            minicnn.load(path)
            print("LOADED", path)
        except CheckpointError as error:
            print("REFUSED", error)
    """
)


def sparse_file(path, head: bytes, size: int = 4 * 2**30):
    """A file of ``size`` bytes that starts with ``head`` and is zeros after it, costing no disk (a hole)."""
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)
    return str(path)


def header_bytes(header: dict) -> bytes:
    encoded = json.dumps(header).encode()
    return len(encoded).to_bytes(8, "little") + encoded


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and sparse files as Linux has them")
def test_refusing_huge_bogus_files_costs_a_few_megabytes(tmp_path):
    """4 GiB files (sparse) that are zips, claim 2**63-byte headers or tensors past the file, or fail their
    checksum are refused by a process that cannot allocate 256 MB."""
    crc_bad = {"minicnn.format": "1", "minicnn.structure": '{"tensor": "w"}', "minicnn.crc32": "00000000"}
    files = {
        "zip": sparse_file(tmp_path / "model.pt", b"PK\x03\x04" + bytes(60)),
        "header 2**63": sparse_file(tmp_path / "h63.safetensors", (2**63).to_bytes(8, "little") + b"{"),
        "header 2**63 - 1": sparse_file(tmp_path / "h63m1.safetensors", (2**63 - 1).to_bytes(8, "little")),
        "header over 100 MB": sparse_file(tmp_path / "h200.safetensors", (2 * 10**8).to_bytes(8, "little") + b"{"),
        "tensor of 2**64 elements": sparse_file(
            tmp_path / "t64.safetensors",
            header_bytes({"w": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 2**66]}}),
        ),
        "tensor past the end": sparse_file(
            tmp_path / "past.safetensors",
            header_bytes({"w": {"dtype": "F32", "shape": [2**31], "data_offsets": [0, 2**33]}}),
        ),
        "wrong checksum": sparse_file(  # 1 GiB of zeros behind a valid header
            tmp_path / "crc.safetensors",
            crc_head := header_bytes(
                {"__metadata__": crc_bad, "w": {"dtype": "U8", "shape": [2**30], "data_offsets": [0, 2**30]}}
            ),
            len(crc_head) + 2**30,
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_UNDER_A_MEMORY_LIMIT, *files.values()],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "LIMIT NOT ENFORCED" not in lines
    assert len(lines) == len(files), result.stdout + result.stderr[-3000:]
    expected = ["zip archive", "header claims", "header claims", "more than the 100000000", "the tensors take",
                "the tensors take", "checksum mismatch"]  # fmt: skip
    for line, path, match in zip(lines, files.values(), expected):
        assert line.startswith("REFUSED") and path in line and match in line, line
