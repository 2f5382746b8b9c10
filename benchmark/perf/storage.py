"""Bytes per scene of each audio format (float32, pcm16, flac) and of the published parquet.

Renders ``--num`` scenes of a split once (float32, the local pool), then encodes every audio
file of each scene in the other formats with the writer's own encoder
(:func:`asabench.simulate.io.wav.encode_audio`, from the exact float32 samples: the bytes
``simulate --audio-format`` writes), and materialises the FLAC dataset as a Hub folder.
Numbers in ``docs/storage.md``.

Run: ``python -m asabench.benchmark.perf.storage [--manifest asa2] [--split test] [--num 8]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.format import read_index
from asabench.simulate.export.hub import materialise_hub
from asabench.simulate.io.wav import AUDIO_FORMATS, AUDIO_SUFFIX, encode_audio, read_wav


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default="demo")
    ap.add_argument("--split", default="test")
    ap.add_argument("--num", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "float32"
        simulate_dataset(args.manifest, args.split, src, num=args.num, workers=args.workers)
        totals = {f: 0 for f in AUDIO_FORMATS}
        flac = Path(tmp) / "flac"
        sources = 0
        for rec in read_index(src):
            sources += rec.num_sources
            for name, entry in rec.files.all():
                if name in ("labels", "spec"):
                    size = (src / entry.path).stat().st_size
                    for f in AUDIO_FORMATS:
                        totals[f] += size
                    continue
                x, fs = read_wav(src / entry.path)
                for f in AUDIO_FORMATS:
                    totals[f] += len(encode_audio(x, fs, f))
        simulate_dataset(args.manifest, args.split, flac, num=args.num, workers=args.workers, audio_format="flac")
        hub = materialise_hub(flac, Path(tmp) / "hub", repo_id="perf/storage")
        n = args.num
        print(f"{args.manifest}/{args.split}: {n} scenes, {sources / n:.2f} sources per scene on average")
        for f in AUDIO_FORMATS:
            print(f"  {f:8s} {totals[f] / n / 2**20:8.3f} MiB per scene  ({totals[f] / totals['float32']:.3f} of float32)"
                  f"  files *{AUDIO_SUFFIX[f]}")
        print(f"  hub (flac parquet) {hub.bytes / n / 2**20:8.3f} MiB per scene")


if __name__ == "__main__":
    main()
