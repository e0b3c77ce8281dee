"""The README stays true: its op table is generated from this evidence list, whose every entry must name
a real test that exercises the op. Run ``python -m tests.test_readme`` to print the table."""

import ast
import pathlib
import re

import minicnn.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent

# op: (test file, gradcheck test, PyTorch-parity test, error test). The op's name must appear in the file.
EVIDENCE = {
    "add / sub / mul / div": (
        "test_ops_elementwise",
        "test_binary_gradcheck_with_broadcasting",
        "test_binary_matches_torch_on_broadcast_shapes",
        "test_errors_name_the_op_and_shapes",
    ),
    "pow": (
        "test_ops_elementwise",
        "test_binary_gradcheck_with_broadcasting",
        "test_binary_matches_torch_on_broadcast_shapes",
        "test_errors_name_the_op_and_shapes",
    ),
    "neg / exp / log / sqrt / abs / clamp": (
        "test_ops_elementwise",
        "test_unary_gradcheck",
        "test_unary_matches_torch",
        "test_errors_name_the_op_and_shapes",
    ),
    "where": (
        "test_ops_elementwise",
        "test_where_gradcheck_and_parity",
        "test_where_gradcheck_and_parity",
        "test_errors_name_the_op_and_shapes",
    ),
    "relu / leaky_relu / sigmoid / tanh": (
        "test_ops_elementwise",
        "test_unary_gradcheck",
        "test_unary_matches_torch",
        "test_errors_name_the_op_and_shapes",
    ),
    "softmax / log_softmax": (
        "test_ops_elementwise",
        "test_unary_gradcheck",
        "test_unary_matches_torch",
        "test_errors_name_the_op_and_shapes",
    ),
    "sum / mean / var / amax / amin": (
        "test_ops_reduction",
        "test_reductions_gradcheck",
        "test_reductions_match_torch",
        "test_reduction_errors",
    ),
    "max / min (values, indices)": (
        "test_ops_reduction",
        "test_max_min_along_dim",
        "test_max_min_along_dim",
        "test_reduction_errors",
    ),
    "view / reshape / flatten / squeeze / unsqueeze": (
        "test_ops_shape",
        "test_shape_op_gradcheck",
        "test_shape_op_matches_torch",
        "test_shape_errors",
    ),
    "transpose / permute / expand / contiguous": (
        "test_ops_shape",
        "test_shape_op_gradcheck",
        "test_shape_op_matches_torch",
        "test_shape_errors",
    ),
    "getitem": ("test_ops_shape", "test_shape_op_gradcheck", "test_shape_op_matches_torch", "test_shape_errors"),
    "cat / stack": (
        "test_ops_shape",
        "test_cat_and_stack_match_torch",
        "test_cat_and_stack_match_torch",
        "test_shape_errors",
    ),
    "pad": ("test_ops_shape", "test_shape_op_gradcheck", "test_shape_op_matches_torch", "test_shape_errors"),
    "matmul": (
        "test_ops_matmul",
        "test_matmul_gradcheck",
        "test_matmul_matches_torch",
        "test_matmul_and_linear_errors",
    ),
    "linear": (
        "test_ops_matmul",
        "test_linear_gradcheck",
        "test_linear_matches_torch",
        "test_matmul_and_linear_errors",
    ),
    "conv2d": (
        "test_ops_conv",
        "test_conv2d_gradcheck",
        "test_conv2d_matches_torch",
        "test_conv2d_rejects_bad_arguments",
    ),
    "max_pool2d": (
        "test_ops_pooling",
        "test_max_pool2d_gradcheck",
        "test_max_pool2d_matches_torch",
        "test_bad_window_arguments",
    ),
    "avg_pool2d": (
        "test_ops_pooling",
        "test_avg_pool2d_gradcheck",
        "test_avg_pool2d_matches_torch",
        "test_bad_window_arguments",
    ),
    "adaptive_avg_pool2d": (
        "test_ops_pooling",
        "test_adaptive_avg_pool2d_gradcheck",
        "test_adaptive_avg_pool2d_matches_torch",
        "test_bad_output_size",
    ),
    "adaptive_max_pool2d": (
        "test_ops_pooling",
        "test_adaptive_max_pool2d_gradcheck",
        "test_adaptive_max_pool2d_matches_torch",
        "test_bad_output_size",
    ),
    "batch_norm": (
        "test_ops_normalization",
        "test_gradcheck",
        "test_matches_torch_forward_backward_and_running_stats",
        "test_errors",
    ),
    "dropout / dropout2d": (
        "test_ops_dropout",
        "test_gradcheck_dropout",
        "test_kept_values_match_torch_scaling",
        "test_errors",
    ),
    "cross_entropy": (
        "test_ops_loss",
        "test_cross_entropy_gradcheck",
        "test_cross_entropy_matches_torch",
        "test_target_out_of_range",
    ),
    "nll_loss": (
        "test_ops_loss",
        "test_nll_loss_gradcheck",
        "test_cross_entropy_matches_torch",
        "test_target_out_of_range",
    ),
    "mse_loss / l1_loss": (
        "test_ops_loss",
        "test_pointwise_losses_gradcheck",
        "test_mse_and_l1_match_torch",
        "test_pointwise_loss_checks",
    ),
    "binary_cross_entropy (with_logits)": (
        "test_ops_loss",
        "test_pointwise_losses_gradcheck",
        "test_binary_cross_entropies_match_torch",
        "test_binary_cross_entropy_checks",
    ),
}


def functions_in(module: str) -> dict:
    """name -> source of each top-level test function in tests/<module>.py"""
    source = (ROOT / "tests" / f"{module}.py").read_text()
    tree = ast.parse(source)
    return {n.name: ast.get_source_segment(source, n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def op_table() -> str:
    lines = [
        "| op (`minicnn.nn.functional` / Tensor) | float64 gradcheck | PyTorch parity | error test |",
        "|---|---|---|---|",
    ]
    for op, (module, grad, parity, error) in EVIDENCE.items():
        cells = [f"`{module}.py::{name}`" for name in (grad, parity, error)]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_every_evidence_entry_names_a_real_test_that_mentions_the_op():
    for op, (module, *tests) in EVIDENCE.items():
        functions = functions_in(module)
        file_text = (ROOT / "tests" / f"{module}.py").read_text()
        for test in tests:
            assert test in functions, f"{op}: {module}.py has no test {test}"
        for name in re.findall(r"[a-z_0-9]+", op.split("(")[0]):
            assert name in file_text, f"{op}: {module}.py never mentions {name}"


def test_every_public_functional_op_is_in_the_table():
    listed = " ".join(EVIDENCE)
    missing = [name for name in F.__all__ if name not in listed and name != "binary_cross_entropy_with_logits"]
    assert not missing, f"functional ops without a README row: {missing}"


def test_readme_op_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert op_table() in readme, "README op table is stale: run `python -m tests.test_readme` and paste it"


if __name__ == "__main__":
    print(op_table())
