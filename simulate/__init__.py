"""Room impulse responses, ASA2-style scenes and reproducible datasets."""
from asabench.simulate.rir.measure import measure_rt60, schroeder_decay_db
from asabench.simulate.scene.convolution import convolve_trajectory
from asabench.simulate.geometry import (
    SPEED_OF_SOUND,
    TETRA_CAPSULES_DEG,
    TETRA_RADIUS_M,
    MicArray,
    Room,
    cartesian_to_dcase,
    dcase_to_cartesian,
    tetra_array,
)
from asabench.simulate.rir.engine import simulate_rirs, simulate_rirs_torch
from asabench.simulate.rir.sabine import att_to_time, betas_from_rt60, images_per_dim, rt60_from_betas
from asabench.simulate.export.asa2 import export_asa2
from asabench.simulate.export.hub import load_hub
from asabench.simulate.dataset.format import DatasetFormatError, read_dataset_info, read_index
from asabench.simulate.dataset.loader import SceneDataset, collate_scenes
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.manifest import Manifest, ManifestError, load_manifest
from asabench.simulate.scene.spec import SceneSpec, SpecError, load_spec
from asabench.simulate.scene.sampling import BadSourceError, sample_layout, sample_scene
from asabench.simulate.scene.render import RenderedScene, active_power, render_scene
from asabench.simulate.dataset.build import render_spec_to, simulate_dataset
