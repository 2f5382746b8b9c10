"""Exact, batch-first metrics for separation, extraction, SELD, spatial cues and complexity."""

# Separation, PIT, spatial cues and guards (flat re-exports; each module documents its maths).
from asabench.benchmark.metrics.guards import (  # noqa: E402,F401
    DB_CEIL,
    DB_FLOOR,
    GUARD_EVENTS,
    SILENCE_POWER,
    GuardReport,
    guard_definitions,
    masked_mean,
)
from asabench.benchmark.metrics.separation import (  # noqa: E402,F401
    sdr_improvement,
    separation_definitions,
    separation_family,
    separation_family_reference,
    si_sdr,
    si_sdr_improvement,
    si_snr,
    si_snr_improvement,
    snr,
    snr_improvement,
)
from asabench.benchmark.metrics.bss_eval import (  # noqa: E402,F401
    BssEvalResult,
    best_permutation,
    bss_eval_sdr,
    bss_eval_sources,
    bss_eval_sources_per_channel,
    bss_sdr_improvement,
    bss_sdr_pairwise,
)
from asabench.benchmark.metrics.pit import (  # noqa: E402,F401
    PitResult,
    apply_permutation,
    pairwise_matrix,
    pit,
    pit_from_pairwise,
)
from asabench.benchmark.metrics.spatial import (  # noqa: E402,F401
    SPATIAL_DEFAULTS,
    delta_ild,
    delta_ipd,
    delta_itd,
    gcc_phat,
    ild,
    mic_pairs,
    spatial_cue_errors,
    tdoa,
)

# SELD: DCASE CSV IO, multi-ACCDOA decoding, DCASE 2022/2023/2024 metrics.
from asabench.benchmark.io.dcase_csv import (  # noqa: E402,F401
    DcaseFormatError,
    DcaseLabels,
    format_dcase_csv,
    polar_to_unit,
    read_dcase_csv,
    scan_dcase_csv,
    write_dcase_csv,
)
from asabench.benchmark.metrics.seld.accdoa import (  # noqa: E402,F401
    decode_multi_accdoa,
    split_multi_accdoa,
)
from asabench.benchmark.metrics.seld import (  # noqa: E402,F401
    SELD_MODES,
    Jackknife,
    SeldCounts,
    SeldEvaluation,
    angular_distance_deg,
    count_seld,
    evaluate_seld,
    jackknife,
    seld_metrics,
    seld_score,
    seld_score_2024,
    summarize_seld,
)
