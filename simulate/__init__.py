"""Room impulse responses, ASA2-style scenes and reproducible datasets."""
from asabench.simulate.acoustics import measure_rt60, schroeder_decay_db
from asabench.simulate.convolution import convolve_trajectory
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
from asabench.simulate.rir import simulate_rirs, simulate_rirs_torch
from asabench.simulate.sabine import att_to_time, betas_from_rt60, images_per_dim, rt60_from_betas
from asabench.simulate.asa2_format import export_asa2
from asabench.simulate.dataset_index import DatasetFormatError, read_dataset_info, read_index
from asabench.simulate.loader import SceneDataset, collate_scenes
from asabench.simulate.verify import verify_dataset
from asabench.simulate.manifest import Manifest, ManifestError, load_manifest
from asabench.simulate.spec import SceneSpec, SpecError, load_spec
from asabench.simulate.sampling import BadSourceError, sample_layout, sample_scene
from asabench.simulate.render import RenderedScene, active_power, render_scene
from asabench.simulate.scene_commands import render_spec_to, simulate_dataset
