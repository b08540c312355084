import math

import pytest

from graphalign.benchmark.statistics import paired_relative, t_quantile_975
from graphalign.errors import ConfigError


def test_paired_relative_differences_with_a_t_interval():
    d = paired_relative([0.30, 0.33, 0.36, 0.27, 0.33], [0.30, 0.30, 0.30, 0.30, 0.30])
    per_seed = [0.0, 0.1, 0.2, -0.1, 0.1]
    assert d.per_seed == pytest.approx(per_seed) and d.mean == pytest.approx(0.06)
    sd = math.sqrt(sum((x - 0.06) ** 2 for x in per_seed) / 4)
    half = 2.776 * sd / math.sqrt(5)
    assert (d.low, d.high) == (pytest.approx(0.06 - half), pytest.approx(0.06 + half))
    assert d.won == 3 and not d.every_seed_positive


def test_one_seed_has_no_interval_and_lengths_must_match():
    d = paired_relative([0.5], [0.4])
    assert d.low is None and d.high is None and d.every_seed_positive
    with pytest.raises(ConfigError, match="same seeds"):
        paired_relative([0.5, 0.4], [0.4])
    with pytest.raises(ConfigError, match="same seeds"):
        paired_relative([], [])


def test_t_quantiles():
    assert t_quantile_975(1) == 12.706 and t_quantile_975(30) == 2.042 and t_quantile_975(1000) == 1.960
    with pytest.raises(ConfigError):
        t_quantile_975(0)
