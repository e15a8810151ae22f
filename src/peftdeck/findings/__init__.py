"""Every claim the deck makes, computed from the tidy cell table.

Pure functions: a DataFrame (one row per experiment and cell, as `peftdeck.aggregate.collect` builds
it, plus rows with `missing=True` for cells that have no result yet) goes in, plain JSON-able data
comes out. Each finding carries the numbers behind it and a `supported` flag; the deck prints a
sentence only when its finding is supported.

One module per deck section: `part1` (methods x tasks) with its claims in `claims` and its costs in
`cost`; `part2` (training-set sizes); `grid`, `ranks` and `fractions` (the wider study);
`conclusions` (the conclusions and summary slides). `stats` holds the bootstrap intervals, `_common`
the shared helpers, `figures` the registry of the figures each section declares.

Conventions:

* scores are percentages (0-100), as in the cell files;
* comparisons stay within one experiment; an experiment's reference is its first method of a
  reference kind (full fine-tuning: the method whose spec sets ``reference``, see peftdeck.methods);
* seeds are averaged; a standard deviation is given only when more than one seed is present;
* a (task, method) entry with a collapsed run (it predicted one class for >= 99 % of the evaluation
  set) is flagged and left out of every "who wins" comparison;
* when one (task, method) was run with several hyper-parameter settings (learning rates, batch sizes,
  schedules), the setting with the best mean primary score is reported and the others are counted;
  grid studies (`slides: grid`) instead choose on the held-out part of train and never on the dev split;
* a difference to the reference is called a win or a loss only when the percentile bootstrap
  interval of the difference (seeds resampled, paired by seed where both sides ran the same seeds)
  excludes zero; with fewer than `CI_MIN_SEEDS` seeds per side there is no interval, and a
  difference within `TIE_TOLERANCE` points counts as a tie.
"""
from __future__ import annotations

from ._common import (HPARAM_KEYS, MEMORY_KINDS, METRICS, TIE_TOLERANCE, clean, fraction_value, mean_std,
                      reference_kinds, reference_method, score_entry, seed_scores, size_key)
from .claims import observations
from .conclusions import conclusions
from .cost import (PARETO_COSTS, STORAGE_TASKS, pareto_front, pareto_fronts, relative_to_reference,
                   serving_cost, serving_method, storage_cost)
from .figures import figure, figure_specs, registry
from .fractions import fraction_sweep
from .grid import choose_grid_point, grid_selection
from .part1 import (average_over_tasks, best_per_task, gain_share, loss_curves, methods_summary,
                    percent_of_reference, task_spread, task_table)
from .part2 import (crossover, hypothesis_small_data, regime_table, schedule_comparison, size_sweep,
                    small_data_extent)
from .ranks import rank_sweep
from .stats import (CI_LEVEL, CI_MIN_SEEDS, CI_RESAMPLES, CI_SEED, bootstrap_diff_ci, bootstrap_mean_ci,
                    compare_entries, compare_scores, signed_outcome)

# Which figures the deck shows: name -> (deck section, slide title), gathered from the section modules.
FIGURES = registry()

__all__ = [
    "CI_LEVEL", "CI_MIN_SEEDS", "CI_RESAMPLES", "CI_SEED", "FIGURES", "HPARAM_KEYS", "MEMORY_KINDS", "METRICS",
    "PARETO_COSTS", "STORAGE_TASKS", "TIE_TOLERANCE",
    "average_over_tasks", "best_per_task", "bootstrap_diff_ci", "bootstrap_mean_ci", "choose_grid_point", "clean",
    "compare_entries", "compare_scores", "conclusions", "crossover", "figure", "figure_specs", "fraction_sweep",
    "fraction_value", "gain_share", "grid_selection", "hypothesis_small_data", "loss_curves", "mean_std",
    "methods_summary", "observations", "pareto_front", "pareto_fronts", "percent_of_reference", "rank_sweep",
    "reference_kinds", "reference_method", "regime_table", "registry", "relative_to_reference",
    "schedule_comparison", "score_entry", "seed_scores", "serving_cost", "serving_method", "signed_outcome",
    "size_key", "size_sweep",
    "small_data_extent", "storage_cost", "task_spread", "task_table",
]
