from pathlib import Path

from graphalign.benchmark.quality import BenchmarkResult
from graphalign.benchmark.report import render_report


def _result() -> BenchmarkResult:
    result = BenchmarkResult(graph_methods={"graph"}, counts=[{"a:image->concept": 5}])
    metrics = lambda mrr: {"mrr": mrr, "hits@1": mrr / 2, "hits@10": 1.0}  # noqa: E731
    for subset in ("all", "seen"):
        result.rows[("graph", "a:image->concept", subset)] = [metrics(0.6), metrics(0.5)]
        result.rows[("baseline", "a:image->concept", subset)] = [metrics(0.4), metrics(0.4)]
    return result


def test_report_sections_and_command():
    text = render_report(_result(), "toy", "graphalign bench toy --seeds 0 1", 12.3, 2)
    lines = text.split("\n")
    assert lines[0] == "# Quality benchmark on `toy`"
    assert lines[2].startswith("`graphalign bench toy --seeds 0 1` on ") and "12s in all" in lines[2]
    assert lines[2].endswith("mean ± std over 2 seeds.")
    assert "held-out pairs (first seed): a:image->concept 5" in lines
    result = _result()
    result.seeds = [3, 4]
    assert "held-out pairs (seed 3): a:image->concept 5" in render_report(result, "toy", "c", 1.0, 2).split("\n")
    assert (
        "| a:image->concept | graph | 0.550 ± 0.071 | baseline | 0.400 ± 0.000 | +37.5% | [-121.3%, +196.3%] "
        "| +50.0%, +25.0% | 2/2 | >= -2% | yes |" in lines
    )
    assert "## image->concept, concepts with training images (MRR)" in lines
    assert "## Plots" not in lines and text.endswith(" |\n")


def test_a_one_seed_report_has_no_std_and_no_interval():
    result = _result()
    result.rows = {key: runs[:1] for key, runs in result.rows.items()}
    lines = render_report(result, "toy", "graphalign bench toy --seeds 0", 1.0, 1).split("\n")
    assert lines[2].endswith("target type, on one seed (so no std and no interval).")
    assert "| a:image->concept | graph | 0.600 | baseline | 0.400 | +50.0% | - | +50.0% | 1/1 | >= -2% | yes |" in lines
    assert "| graph | 0.600 | 0.300 | 1.000 |" in lines  # every table: means alone
    assert "±" not in "\n".join(lines[3:])


def test_report_links_plots():
    text = render_report(_result(), "toy", "graphalign bench toy", 1.0, 2, plots=[Path("out/map-toy.png")])
    assert text.endswith("## Plots\n\n![map-toy](map-toy.png)\n")
    assert render_report(_result(), "toy", "c", 1.0, 2, plots=[]).endswith("\n## Plots\n\n")  # a section, no links


def test_write_csv_replaces_the_file_whole(tmp_path, monkeypatch):
    import csv

    import pytest

    import graphalign.atomic as atomic
    from graphalign.benchmark.quality import write_csv

    metrics = {"mrr": 0.5, "hits@1": 0.25, "hits@3": 0.5, "hits@10": 1.0, "mean_rank": 3.0, "count": 4}
    result = BenchmarkResult(rows={("m", "a:image->concept", "all"): [metrics, {**metrics, "mrr": 0.75}]})
    path = tmp_path / "out" / "quality-x.csv"
    write_csv(result, path)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows[0][:5] == ["method", "protocol", "subset", "seed_index", "mrr"]
    assert [r[3:5] for r in rows[1:]] == [["0", "0.500000"], ["1", "0.750000"]]
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", crash)  # the rename onto the report fails
    with pytest.raises(OSError, match="disk full"):
        write_csv(BenchmarkResult(rows={("m", "b:text->image", "all"): [metrics]}), path)
    assert path.read_bytes() == before  # the previous report is kept whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["quality-x.csv"]  # no temporary file left


def test_bench_outputs_are_recognised_as_its_own(tmp_path):
    """What ``graphalign bench`` replaces: its report, its CSV and its plots; nothing else by those names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from graphalign.benchmark.plots import _save, is_plot
    from graphalign.benchmark.quality import is_results_csv, write_csv
    from graphalign.benchmark.report import is_report

    report = tmp_path / "quality-toy.md"
    report.write_text(render_report(_result(), "toy", "graphalign bench toy", 1.0, 2) + "\n")
    table = tmp_path / "quality-toy.csv"
    metrics = {"mrr": 0.5, "hits@1": 0.25, "hits@3": 0.5, "hits@10": 1.0, "mean_rank": 3.0, "count": 4}
    write_csv(BenchmarkResult(rows={("m", "a:image->concept", "all"): [metrics]}), table)
    figure, _ = plt.subplots()
    plot, other = tmp_path / "curves-toy.png", tmp_path / "other.png"
    _save(figure, plot)
    figure.savefig(other)  # a PNG of the same figure that bench did not write
    plt.close(figure)
    assert is_report(report) and is_results_csv(table) and is_plot(plot)
    assert not is_plot(other)
    notes = tmp_path / "notes.md"
    notes.write_text("# Quality notes\nmethod,protocol\n")
    assert not is_report(notes) and not is_results_csv(notes) and not is_plot(notes)
    assert not is_report(table) and not is_results_csv(report)
