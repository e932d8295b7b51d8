"""One error contract: every exception and warning class lives in gan_regularizers/errors.py."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
from pathlib import Path

import pytest

from gan_regularizers import errors

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "gan_regularizers").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if inspect.isclass(value) and issubclass(value, BaseException)
}
ERROR_CLASSES = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value)
    and issubclass(value, BaseException | Warning)
    and value.__module__ == errors.__name__
]


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def _looks_like_exception(name: str) -> bool:
    return name in BUILTIN_EXCEPTIONS or name.endswith(("Error", "Warning", "Exception"))


def test_no_exception_or_warning_class_is_defined_outside_errors_py() -> None:
    outside = []
    for path in SOURCES:
        if path == ROOT / "gan_regularizers" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            if any(map(_looks_like_exception, _base_names(node))):
                outside.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert outside == [], "define these in gan_regularizers/errors.py instead: " + str(outside)


def test_the_scan_would_catch_a_class_defined_elsewhere() -> None:
    tree = ast.parse(
        "class Oops(ValueError): ...\nclass Fine(Base): ...\nclass W(x.FooWarning): ..."
    )
    found = [n.name for n in tree.body if any(map(_looks_like_exception, _base_names(n)))]
    assert found == ["Oops", "W"]


def test_every_class_derives_from_the_package_base() -> None:
    assert len(ERROR_CLASSES) >= 23
    for cls in ERROR_CLASSES:
        if issubclass(cls, Warning):
            assert issubclass(cls, errors.GanRegularizersWarning), cls
            assert issubclass(cls, UserWarning), cls
        else:
            assert issubclass(cls, errors.GanRegularizersError), cls


def test_no_module_defines_an_exception_class_at_run_time() -> None:
    """The inspect twin of the ast scan, over every module that imports without extras."""
    for path in SOURCES:
        relative = path.relative_to(ROOT).with_suffix("")
        parts = list(relative.parts)
        if parts[0] == "plugins":
            parts = ["gan_regularizers", *parts]
        if parts[-1] == "__main__":
            continue  # importing it runs the CLI; the ast scan covers it
        if parts[-1] == "__init__":
            parts = parts[:-1]
        try:
            module = importlib.import_module(".".join(parts))
        except ImportError:  # an optional extra that is not installed
            continue
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                assert not issubclass(value, BaseException | Warning) or module is errors, value


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("ConfigError", ValueError),
        ("SpecError", ValueError),
        ("DataSpecError", ValueError),
        ("MetricError", ValueError),
        ("WeightsFileError", ValueError),
        ("WeightsUnavailableError", OSError),
        ("MissingWeightsError", FileNotFoundError),
        ("UnknownNameError", KeyError),
        ("MissingExtraError", ImportError),
        ("NotFittedError", RuntimeError),
        ("DistributedError", RuntimeError),
        ("ConsistencyError", RuntimeError),
        ("NonFiniteLossError", FloatingPointError),
    ],
)
def test_errors_keep_the_builtin_they_subclassed(name: str, builtin: type) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, builtin) and issubclass(cls, errors.GanRegularizersError)


def test_not_fitted_error_is_a_package_error_raised_by_an_unfitted_centroid() -> None:
    import torch

    from gan_regularizers.centroid.loss import CentroidLoss

    loss = CentroidLoss(torch.nn.Flatten())
    with pytest.raises(errors.GanRegularizersError) as caught:
        loss(torch.zeros(2, 1, 4, 4))
    assert isinstance(caught.value, errors.NotFittedError)
    assert "fit" in str(caught.value)


def test_unknown_name_error_prints_its_message_not_a_repr() -> None:
    error = errors.UnknownNameError("loss", "bcee", ["bce", "lsgan"])
    assert str(error).startswith("Unknown loss 'bcee'. Did you mean 'bce'?")
    assert "Available losses: bce, lsgan." in str(error)


# `raise ValueError(...)` and friends still in the package: the CLI prints them as one line too,
# but a user's mistake should raise a GanRegularizersError subclass (InputValueError,
# ConfigError, ...), so that `except GanRegularizersError` catches every one. Each count may only
# go down; a module that reaches 0 leaves the list.
BUILTIN_RAISES_LEFT = {
    "gan_regularizers/centroid/group_statistics.py": 8,
    "gan_regularizers/centroid/loss.py": 22,
    "gan_regularizers/commands/eval.py": 1,
    "gan_regularizers/data/batches.py": 3,
    "gan_regularizers/data/celeba.py": 2,
    "gan_regularizers/data/image_folder.py": 5,
    "gan_regularizers/data/mnist5k.py": 3,
    "gan_regularizers/data/tensors.py": 3,
    "gan_regularizers/features/base.py": 5,
    "gan_regularizers/features/moments.py": 5,
    "gan_regularizers/metrics/bootstrap.py": 2,
    "gan_regularizers/metrics/lpips_diversity.py": 4,
    "gan_regularizers/metrics/mode_coverage.py": 3,
    "gan_regularizers/models/dcgan.py": 4,
    "gan_regularizers/plugin_system/registry.py": 3,
    "plugins/bce.py": 1,
    "plugins/clip.py": 3,
    "plugins/inception.py": 1,
    "plugins/lsgan.py": 3,
    "plugins/mnist.py": 3,
    "plugins/timm_models.py": 10,
    "plugins/vgg16.py": 3,
}
RAISED_BUILTINS = {
    "Exception",
    "FileExistsError",
    "FileNotFoundError",
    "IndexError",
    "IsADirectoryError",
    "KeyError",
    "LookupError",
    "OSError",
    "PermissionError",
    "RuntimeError",
    "TypeError",
    "ValueError",
}


def _builtin_raises(source: str) -> int:
    return sum(
        isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id in RAISED_BUILTINS
        for node in ast.walk(ast.parse(source))
    )


def test_builtin_raises_only_go_down() -> None:
    grown = {}
    for path in SOURCES:
        name = str(path.relative_to(ROOT))
        count = _builtin_raises(path.read_text(encoding="utf-8"))
        if count > BUILTIN_RAISES_LEFT.get(name, 0):
            grown[name] = count
    assert grown == {}, "raise a class from gan_regularizers/errors.py instead: " + str(grown)


def test_the_raise_counter_counts_builtins_only() -> None:
    source = "raise ValueError('a')\nraise ConfigError('b')\nraise\nraise TypeError\n"
    assert _builtin_raises(source) == 1  # a bare class (no call) is not a user-facing message


def test_the_package_top_exports_only_the_two_bases() -> None:
    """`dir(gan_regularizers)` reads like an API: the other classes stay in `errors`."""
    import gan_regularizers

    exported = {name for name in gan_regularizers.__all__ if name in vars(errors)}
    assert exported == {"GanRegularizersError", "GanRegularizersWarning"}
    for cls in ERROR_CLASSES:
        if cls.__name__ not in exported:
            assert not hasattr(gan_regularizers, cls.__name__), cls.__name__
    for name in gan_regularizers.__all__:  # every promised name resolves
        assert getattr(gan_regularizers, name) is not None, name
