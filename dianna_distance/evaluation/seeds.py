"""Seed spread (convergence): how much does the map vary between random mask seeds?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import check_bool, check_int, check_random_state
from dianna_distance.convergence import estimate_map_spread
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.evaluation.common import RandomState, check_explainer, clone_explainer


@dataclass
class SeedSpreadResult:
    """Spread of maps across random seeds, as returned by :class:`SeedSpread`.

    Attributes:
        n_masks: ``(M,)`` the numbers of masks tried.
        spread: ``(M,)`` mean over pixels of the per-pixel standard deviation (``ddof=1``) across seeds.
        estimated_spread: ``(M,)`` the single-run estimate of
            :func:`~dianna_distance.convergence.estimate_map_spread`, averaged over seeds.
        coefficient: ``c`` of the least-squares fit ``spread ≈ c / sqrt(n_masks)``.
        seeds: ``(n_seeds,)`` the seeds of the runs (the same for every number of masks).
        maps: ``(M, n_seeds, *map shape)`` every map.
    """

    n_masks: np.ndarray
    spread: np.ndarray
    estimated_spread: np.ndarray
    coefficient: float
    seeds: np.ndarray
    maps: np.ndarray


class SeedSpread:
    """Convergence: how much the map varies between random seeds, for several numbers of masks.

    For every number of masks, the image is explained with ``n_seeds`` different mask seeds; the spread is the
    per-pixel standard deviation of the maps across seeds, averaged over pixels (Meijer & Bos 2025, table 2). It
    falls about as ``1 / sqrt(n_masks)``.

    Args:
        n_masks: The numbers of masks to try.
        n_seeds: Number of seeds per number of masks (at least 2).
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose other parameters are used (its
            ``n_masks``, ``masks``, ``random_state`` and ``progress`` are replaced). Default: ``DistanceExplainer()``.
        random_state: Seed or generator from which the mask seeds are drawn.
        progress: Show a progress bar.
    """

    def __init__(
        self,
        n_masks: Sequence[int] = (100, 500, 2000),
        n_seeds: int = 5,
        explainer: MaskedDistanceExplainer | None = None,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        self.n_masks = n_masks
        self.n_seeds = n_seeds
        self.explainer = explainer
        self.random_state = random_state
        self.progress = progress

    def __call__(self, model: Any, image: Any, reference: np.ndarray) -> SeedSpreadResult:
        """Explain the image ``n_seeds`` times for every number of masks.

        Args:
            model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``).

        Returns:
            A :class:`SeedSpreadResult`.
        """
        self._validate_parameters()
        run_model = clone_explainer(self.explainer).load_model(model)
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, size=self.n_seeds)
        n_masks = np.array(self.n_masks)
        rows: list[np.ndarray] = []
        estimates: list[float] = []
        with tqdm(total=len(n_masks) * len(seeds), desc="Seed spread", unit="map", disable=not self.progress) as bar:
            for n in n_masks:
                row, row_estimates = [], []
                for seed in seeds:
                    explainer = clone_explainer(self.explainer, n_masks=int(n), masks=None, random_state=int(seed),
                                                progress=False, tolerance=None)
                    row.append(explainer.attribute(run_model, image, reference))
                    row_estimates.append(float(np.nanmean(explainer.standard_error_))
                                         if explainer.weighting == "regression"
                                         else estimate_map_spread(explainer.masks_, explainer.weights_))
                    bar.update()
                rows.append(np.stack(row))
                estimates.append(float(np.mean(row_estimates)))
        maps = np.stack(rows)
        spread = np.nanmean(maps.std(axis=1, ddof=1).reshape(len(n_masks), -1), axis=1)  # NaN: unseen words
        inverse_root = 1 / np.sqrt(n_masks)
        coefficient = float(spread @ inverse_root / (inverse_root @ inverse_root))
        return SeedSpreadResult(n_masks=n_masks, spread=spread, estimated_spread=np.array(estimates),
                                coefficient=coefficient, seeds=seeds, maps=maps)

    def _validate_parameters(self) -> None:
        if isinstance(self.n_masks, (str, bytes)) or not isinstance(self.n_masks, Sequence) or not self.n_masks:
            raise TypeError(f"n_masks must be a non-empty sequence of ints, got {self.n_masks!r}")
        for value in self.n_masks:
            check_int(value, "n_masks (each value)", minimum=1)
        check_int(self.n_seeds, "n_seeds", minimum=2)
        check_explainer(self.explainer, None)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")


def seed_spread(model: Any, image: Any, reference: np.ndarray, **parameters: Any) -> SeedSpreadResult:
    """Run :class:`SeedSpread` once.

    Args:
        model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`SeedSpread` (``n_masks``, ``n_seeds``, ``explainer``, ...).

    Returns:
        A :class:`SeedSpreadResult`.
    """
    return SeedSpread(**parameters)(model, image, reference)
