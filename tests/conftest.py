"""Shared fixtures: fake distributions on sys.path, runtime plugins, and a fresh plugin manager
for every test."""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gan_regularizers.plugin_system.manager import get_plugin_manager, reset_plugin_manager

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = REPO / "docs" / "examples" / "gan-regularizers-tv"


@pytest.fixture(autouse=True)
def fresh_plugin_manager() -> Iterator[None]:
    """Every test sees the plugins installed at that moment, and leaves nothing behind."""
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Statistics caches (``GAN_REGULARIZERS_CACHE``) in the test's own folder, returned; a test
    module that wants it everywhere says ``pytestmark = pytest.mark.usefixtures("isolated_cache")``
    (the one copy of this fixture)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(cache))
    return cache


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(plugin_object, name)``: a plugin registered at run time for one test,
    unregistered in ``finally`` (the one copy of this fixture: use it, do not write another)."""
    registered: list[tuple[object, str]] = []

    def register(plugin: object, name: str) -> None:
        manager = get_plugin_manager()
        manager.register(plugin, name=name)
        registered.append((manager, name))

    try:
        yield register
    finally:
        for manager, name in reversed(registered):
            if manager.has_plugin(name):
                manager.unregister(name=name)


def write_distribution(
    root: Path, name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write an installed distribution (``.dist-info`` + modules) into ``root``, as pip would."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[gan_regularizers]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


@pytest.fixture
def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Install a fake distribution for the duration of one test."""

    def install(
        name: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0"
    ) -> Path:
        root = write_distribution(tmp_path / name, name, version, entry_points, modules)
        monkeypatch.syspath_prepend(str(root))
        for module in modules:
            sys.modules.pop(module, None)
        reset_plugin_manager()
        return root

    return install


def install_example_plugin(root: Path) -> Path:
    """Install docs/examples/gan-regularizers-tv into ``root`` from its own pyproject.toml."""
    project = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text())["project"]
    write_distribution(
        root,
        project["name"],
        project["version"],
        project["entry-points"]["gan_regularizers"],
        modules={},
    )
    shutil.copytree(EXAMPLE_PLUGIN / "gan_regularizers_tv", root / "gan_regularizers_tv")
    return root


@pytest.fixture
def example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example plugin package, installed as a real distribution on sys.path."""
    root = install_example_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop("gan_regularizers_tv", None)
    reset_plugin_manager()
    return root


# Tests marked `slow` here, where one table can be read and changed at once (a test module may
# also mark its own tests with @pytest.mark.slow). `pytest -m "not slow"` leaves them out; CI
# (.ci/run) runs everything. Chosen from one timed run of the suite on 2 CPU cores shared with
# other jobs (load ≈ 5): each test function whose runs (all its parametrizations, set-up
# included) took 3 s or more there, with that time; "*" marks a whole module. The entries with no
# time were added from a timed run of `-m "not slow"` on a quiet machine (3 min 19 s in all,
# 2026-12-06): each took 1.5 s or more there, and without them the selection fits in 2 minutes.
SLOW_TESTS: dict[str, set[str]] = {
    "test_centroid_contract.py": {
        "test_vgg16_features_16_statistics_do_not_load_into_features_15",  # 4 s
    },
    "test_centroid_distributed.py": {
        "test_two_ranks_equal_one_process",  # 4 s
    },
    "test_centroid_files.py": {
        "test_paper_preset_with_the_real_vgg16_space",  # 3 s
    },
    "test_cli_errors.py": {
        "test_a_mistake_is_one_line_that_says_what_to_do",  # 11 s
        "test_the_installed_command_prints_one_line",  # 15 s
    },
    "test_compare_reuse.py": {
        "test_a_stored_number_is_reused_only_under_the_same_protocol",  # 16 s
    },
    "test_conformance.py": {
        "test_feature_space_contract",  # 16 s
        "test_regularizer_is_a_finite_scalar_whose_gradient_reaches_its_player",  # 4 s
    },
    "test_demo.py": {
        "test_demo_applies_the_centroid_lazily_by_default",
        "test_demo_reduced_writes_both_runs_and_one_comparison",  # 29 s
    },
    "test_digit_evaluator.py": {
        "test_evaluator_rejects_non_digits_it_never_saw",  # 4 s
        "test_evaluator_space_is_independent_of_mnist_features",  # 9 s
    },
    "test_distributed_statistics.py": {
        "test_centroid_fit_equals_one_process",  # 4 s
    },
    "test_evaluate.py": {
        "test_compare_command_writes_table_csv_and_chart",  # 37 s
        "test_eval_command_writes_metrics_json",  # 55 s
        "test_every_metric_is_batch_size_independent",  # 82 s
        "test_fd_value_and_jackknife_interval_equal_numpy",  # 20 s
    },
    "test_evaluate_distributed.py": {
        "test_two_ranks_give_the_single_process_metrics",  # 11 s
    },
    "test_evaluate_inputs.py": {
        "test_tensor_loader_and_sampler_inputs",  # 11 s
        "test_the_readme_snippet_runs",  # 6 s
    },
    "test_feature_spaces.py": {
        "test_cached_timm_weights_load_offline_through_timm",  # 3 s
        "test_clip_normalize_gives_unit_vectors_and_a_new_descriptor",  # 6 s
        "test_clip_weights_file_reproduces_encode_image",  # 14 s
        "test_dino_block_and_pooling_change_features_and_descriptor",  # 12 s
        "test_dino_block_option_errors_are_clear",  # 5 s
        "test_dino_weights_file_reproduces_timm_and_is_resampled_for_other_sizes",  # 16 s
        "test_dinov2_descriptor_is_exact",  # 5 s
        "test_dinov2_matches_a_hand_written_protocol",  # 15 s
        "test_dinov2_weights_file_gives_the_files_network",  # 19 s
        "test_extract_runs_under_inference_mode_and_matches_forward",  # 6 s
        "test_features_do_not_depend_on_the_batch_size",  # 13 s
        "test_gradients_reach_the_input_images_but_not_the_weights",  # 13 s
        "test_inception_loads_a_safe_weights_file_and_is_not_differentiable",  # 14 s
        "test_output_is_b_by_d_float32_and_parameters_are_frozen",  # 14 s
        "test_the_default_spaces_have_the_documented_shapes",  # 24 s
        "test_timm_weights_file_in_safetensors_reproduces_the_model",  # 7 s
        "test_vgg16_weights_file_reproduces_torchvision_features_up_to_pool3",  # 3 s
        "test_zero_one_inputs_give_the_same_features_as_minus_one_one",  # 4 s
    },
    "test_frechet.py": {
        "test_agrees_with_scipy_sqrtm_on_well_conditioned_cases",  # 10 s
        "test_closed_form_on_a_wide_rank_deficient_case",  # 5 s
    },
    "test_frechet_metric.py": {
        "test_inception_space_from_a_local_file",  # 46 s
    },
    "test_import_cost.py": {
        "test_package_and_builtin_plugins_import_no_backbone_library",  # 10 s
    },
    "test_installed_wheel.py": {
        "test_a_built_wheel_imports_every_builtin_plugin_from_itself",  # 6 s
    },
    "test_metric_sanity.py": {
        "test_fd_and_kid_put_real_digits_far_below_every_bad_set",  # 23 s
    },
    "test_metrics_basics.py": {
        "test_lpips_diversity_equals_a_direct_loop_over_the_lpips_package",  # 5 s
        "test_trunk_weights_load_from_a_local_file",  # 3 s
    },
    "test_plugins.py": {
        "test_cli_without_command_prints_help_and_fails",
        "test_an_outside_packages_d_side_regularizer_and_augmentation_train_through_the_cli",  # 7 s
        "test_cli_plugins_json_and_version",  # 8 s
        "test_cli_plugins_lists_builtins_the_example_plugin_and_a_broken_one",  # 5 s
    },
    "test_run_loading.py": {
        "test_the_ema_generator_is_preferred_and_named",  # 3 s
    },
    "test_training.py": {
        "test_a_full_disk_keeps_the_previous_checkpoint_and_says_how_to_resume",  # 4 s
        "test_a_user_dataset_is_recorded_and_its_range_checked",  # 5 s
        "test_a_users_folder_is_never_written_into",  # 3 s
        "test_every_loss_trains_with_and_without_a_regularizer",  # 15 s
        "test_every_loss_trains_with_each_registered_d_side_plugin",  # 6 s
        "test_logged_d_outputs_are_the_losss_summary",  # 5 s
        "test_resume_is_bit_exact",  # 4 s
        "test_resume_is_bit_exact_with_ema_augmentation_and_stateful_d_regularizer",  # 7 s
    },
    "test_offline_defaults.py": {
        "test_default_eval_and_compare_of_synthetic_runs_offline",
        "test_the_documented_eval_compare_and_score_commands_run_offline",
        "test_offline_metrics_on_an_image_folder_run_work",
    },
    "test_metric_model.py": {
        "test_fakes_in_zero_one_warn_as_train_and_fit_do",
    },
    "test_architectures_training.py": {
        "test_an_outside_packages_architecture_trains_and_evaluates_from_the_cli",
    },
    "test_export.py": {
        "test_the_exported_program_runs_with_plain_torch",
    },
    "test_reliability_messages.py": {
        "test_the_installed_command_lists_the_builtin_and_names_the_impostor",
        "test_fit_on_a_nearly_full_cache_disk_warns_and_finishes",
        "test_the_installed_command_names_the_centroids_option",
        "test_train_with_a_factory_that_calls_sys_exit_says_so",
        "test_data_path_without_folder_prefix_suggests_it",
    },
    "test_reliability_locks.py": {
        "test_a_lock_held_by_another_process_refuses_the_installed_command",
        "test_a_second_fit_to_the_same_out_is_refused",
    },
    "test_conditional.py": {
        "test_conditional_resnet_on_mnist5k_with_the_per_class_centroid",
    },
    "test_distributed_training.py": {
        "test_a_stalled_rank_makes_the_others_time_out",
    },
    "test_reliability_history.py": {
        "test_a_failure_during_the_resume_rewrite_keeps_the_old_history",
    },
    "test_reliability_checkpoints.py": {
        "test_the_installed_command_refuses_a_damaged_checkpoint_in_one_line",
    },
    "test_adaptive.py": {
        "test_resume_is_bit_exact_with_schedules_ema_ramp_and_adaptive_centroid",
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests listed in SLOW_TESTS `slow` (all parametrizations of each)."""
    for item in items:
        names = SLOW_TESTS.get(item.path.name, set())
        if "*" in names or getattr(item, "originalname", item.name) in names:
            item.add_marker(pytest.mark.slow)
