"""Synthetic Sentinel-1-like SAR chips in the exact Kaggle format of the iceberg challenge.

The offline stand-in for Kaggle's `train.json`: the same keys and types, 1,604 records by default,
about 47 % icebergs and 8 % "na" incidence angles, ids of 8 hexadecimal characters. Each chip is
built in linear power and converted to dB at the end:

* Ocean clutter whose HH backscatter falls with incidence angle (30–46°, about 0.5 dB per degree),
  an HV level several dB below HH with a weaker angle trend, a per-scene sea-state offset, swell
  texture, and an additive noise floor.
* A target near the centre: ships are elongated (length 1.8–5 × width), bright, with a few strong
  point scatterers along the hull (superstructure) whose sidelobes leave the cross pattern of SAR
  impulse responses, and relatively strong HV (depolarisation by multiple bounces); icebergs are
  compact, rounder blobs with irregular outlines, dimmer and with lower HV/HH. Size, orientation,
  position and contrast vary and the class distributions overlap, so the task is learnable but
  not trivial: shape, not brightness alone, separates the classes.
* Multiplicative speckle: gamma-distributed with a few looks for clutter (fully developed) and more
  looks for targets (partly deterministic scattering).

"na" angles are drawn independently of the label (in Kaggle's file they all belong to ships, a
leak that lets models classify by the missing flag); the true angle still shapes the clutter.
Everything is vectorised in numpy and seeded; the same seed always gives the same file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from pyode.atomic import atomic_open

SIDE = 75
ICEBERG_FRACTION = 753 / 1604  # as in the Kaggle training set
NA_FRACTION = 133 / 1604
ANGLE_RANGE = (30.0, 46.0)
CLUTTER_LOOKS = 4.0
TARGET_LOOKS = 12.0
NOISE_FLOOR_DB = (-34.0, -33.0)  # HH, HV thermal noise
CHUNK = 256  # images generated at once: bounds memory to a few tens of MB


def _db_to_power(db: np.ndarray | float) -> np.ndarray:
    return np.power(10.0, np.asarray(db) / 10.0)


def _draw_parameters(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-chip scene and target parameters (vectors of length n)."""
    n_ice = round(n * ICEBERG_FRACTION)
    iceberg = np.zeros(n, dtype=bool)
    iceberg[rng.permutation(n)[:n_ice]] = True
    missing = np.zeros(n, dtype=bool)
    missing[rng.permutation(n)[: round(n * NA_FRACTION)]] = True
    angle = rng.uniform(*ANGLE_RANGE, n)
    sea = rng.normal(0.0, 1.5, n)  # sea state / wind, dB

    # geometry: semi-axes in pixels
    ship_half_len = rng.uniform(2.5, 9.0, n)
    ship_aspect = rng.uniform(1.8, 5.0, n)
    ice_radius = np.exp(rng.normal(np.log(3.6), 0.35, n))
    ice_aspect = rng.uniform(1.0, 2.0, n)
    a = np.where(iceberg, ice_radius * np.sqrt(ice_aspect), ship_half_len)
    b = np.where(iceberg, ice_radius / np.sqrt(ice_aspect),
                 np.maximum(ship_half_len / ship_aspect, 1.1))

    # HH contrast of the target body above the clutter mean, and HV/HH ratio, dB
    contrast = np.where(iceberg, rng.normal(12.0, 4.0, n), rng.normal(13.5, 4.0, n))
    ratio = np.where(iceberg, rng.normal(-11.0, 2.5, n), rng.normal(-8.0, 2.5, n))
    # point scatterers: ships carry 1-6 strong ones, icebergs occasionally a weak facet
    n_points = np.where(iceberg, rng.poisson(0.6, n), 1 + rng.poisson(1.2, n))
    return {
        "iceberg": iceberg, "missing": missing, "angle": angle, "sea": sea,
        "a": a, "b": b, "theta": rng.uniform(0.0, np.pi, n),
        "cx": np.clip(rng.normal(0.0, 3.5, n), -12, 12),
        "cy": np.clip(rng.normal(0.0, 3.5, n), -12, 12),
        "contrast": contrast, "ratio": ratio, "n_points": np.minimum(n_points, 6),
        "wobble": rng.uniform(0.0, 0.2, (n, 2)), "wobble_phase": rng.uniform(0, 2 * np.pi, (n, 2)),
        "swell_k": 2 * np.pi / rng.uniform(8.0, 25.0, n), "swell_dir": rng.uniform(0, np.pi, n),
        "swell_amp": rng.uniform(0.2, 1.0, n), "swell_phase": rng.uniform(0, 2 * np.pi, n),
        "hv_offset": rng.normal(0.0, 0.7, n),
    }


def _render(rng: np.random.Generator, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """HH and HV chips in dB, shape (n, 75, 75), for the parameters `p` of n chips."""
    n = len(p["angle"])
    coords = np.arange(SIDE, dtype=np.float64) - (SIDE - 1) / 2
    y = coords[None, :, None]
    x = coords[None, None, :]
    col = lambda v: v[:, None, None]  # noqa: E731  (per-chip scalar -> broadcastable)

    # ocean clutter: mean level in dB from angle and sea state, swell as a slow modulation
    d_angle = p["angle"] - ANGLE_RANGE[0]
    hh_db = -16.5 - 0.5 * d_angle + p["sea"]
    hv_db = -25.5 - 0.2 * d_angle + 0.6 * p["sea"] + p["hv_offset"]
    phase = col(p["swell_k"]) * (x * col(np.cos(p["swell_dir"])) + y * col(np.sin(p["swell_dir"])))
    swell = _db_to_power(col(p["swell_amp"]) * np.sin(phase + col(p["swell_phase"])))
    clutter_hh = col(_db_to_power(hh_db)) * swell
    clutter_hv = col(_db_to_power(hv_db)) * swell

    # target body in rotated, centred coordinates; irregular outlines from low harmonics
    dx, dy = x - col(p["cx"]), y - col(p["cy"])
    cos_t, sin_t = col(np.cos(p["theta"])), col(np.sin(p["theta"]))
    u = dx * cos_t + dy * sin_t
    v = -dx * sin_t + dy * cos_t
    rr2 = (u / col(p["a"])) ** 2 + (v / col(p["b"])) ** 2
    # outline modulation 1 + w2 cos(2ψ + φ2) + w3 cos(3ψ + φ3), ψ the polar angle of (u, v),
    # expanded with cos ψ = u / r and sin ψ = v / r to avoid arctan2 and cos over every pixel
    inv_r = 1 / np.maximum(np.hypot(u, v), 1e-9)
    c, s = u * inv_r, v * inv_r
    ph2, ph3 = p["wobble_phase"][:, 0], p["wobble_phase"][:, 1]
    cos2 = (c * c - s * s) * col(np.cos(ph2)) - 2 * c * s * col(np.sin(ph2))
    cos3 = c * (4 * c * c - 3) * col(np.cos(ph3)) - s * (3 - 4 * s * s) * col(np.sin(ph3))
    wob = 1 + col(p["wobble"][:, 0]) * cos2 + col(p["wobble"][:, 1]) * cos3
    rr2 = rr2 * wob**2
    # ships: flat-topped hull exp(-r^4); icebergs: smooth dome exp(-r^2)
    profile = np.exp(-np.where(col(p["iceberg"]), rr2, rr2**2))
    body_hh = col(_db_to_power(hh_db + p["contrast"])) * profile

    # point scatterers along the major axis with a Gaussian core and cross-shaped sidelobes
    points_hh = np.zeros_like(body_hh)
    points_hv = np.zeros_like(body_hh)
    for k in range(int(p["n_points"].max(initial=0))):
        active = p["n_points"] > k
        if not active.any():
            break
        pos = rng.uniform(-0.8, 0.8, n) * p["a"]
        off = rng.normal(0.0, 0.3, n) * p["b"]
        px = p["cx"] + pos * np.cos(p["theta"]) - off * np.sin(p["theta"])
        py = p["cy"] + pos * np.sin(p["theta"]) + off * np.cos(p["theta"])
        boost = np.where(p["iceberg"], rng.uniform(0.0, 7.0, n), rng.uniform(2.0, 10.0, n))
        strength = _db_to_power(hh_db + p["contrast"] + boost)
        hv_gain = _db_to_power(p["ratio"] + rng.normal(0.0, 2.0, n))
        # separable response, evaluated only for chips that have a k-th scatterer:
        # Gaussian core plus -13 dB sidelobes of a sinc, decaying along range and azimuth
        on = np.flatnonzero(active)
        ddx, ddy = x - col(px[on]), y - col(py[on])
        core_x, core_y = np.exp(-(ddx**2) / (2 * 0.7**2)), np.exp(-(ddy**2) / (2 * 0.7**2))
        line_x, line_y = np.exp(-(ddx**2) / 0.5), np.exp(-(ddy**2) / 0.5)
        tail_x, tail_y = 1 / (1 + (ddx / 2.0) ** 2), 1 / (1 + (ddy / 2.0) ** 2)
        response = col(strength[on]) * (core_y * core_x + 0.05 * (line_y * tail_x
                                                                   + line_x * tail_y))
        points_hh[on] += response
        points_hv[on] += response * col(hv_gain[on])

    target_hh = body_hh + points_hh
    target_hv = body_hh * col(_db_to_power(p["ratio"])) + points_hv
    noise_hh, noise_hv = _db_to_power(NOISE_FLOOR_DB[0]), _db_to_power(NOISE_FLOOR_DB[1])

    def speckle(looks: float) -> np.ndarray:
        return rng.gamma(looks, 1.0 / looks, (n, SIDE, SIDE))

    power_hh = (clutter_hh + noise_hh) * speckle(CLUTTER_LOOKS) + target_hh * speckle(TARGET_LOOKS)
    power_hv = (clutter_hv + noise_hv) * speckle(CLUTTER_LOOKS) + target_hv * speckle(TARGET_LOOKS)
    return 10 * np.log10(power_hh), 10 * np.log10(power_hv)


def generate(n: int = 1604, seed: int = 0) -> list[dict]:
    """`n` Kaggle-format records (ids, bands in dB rounded to 4 decimals, angle or "na", label)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    params = _draw_parameters(rng, n)
    ids = [f"{v:08x}" for v in rng.choice(16**8, size=n, replace=False)]
    records: list[dict] = []
    for start in range(0, n, CHUNK):
        part = {k: v[start: start + CHUNK] for k, v in params.items()}
        hh, hv = _render(rng, part)
        hh = np.round(hh.reshape(len(hh), -1), 4)
        hv = np.round(hv.reshape(len(hv), -1), 4)
        for j in range(len(hh)):
            i = start + j
            angle = "na" if params["missing"][i] else round(float(params["angle"][i]), 4)
            records.append({"id": ids[i], "band_1": hh[j].tolist(), "band_2": hv[j].tolist(),
                            "inc_angle": angle, "is_iceberg": int(params["iceberg"][i])})
    return records


def write_synthetic(path: str | os.PathLike[str], n: int = 1604, seed: int = 0) -> None:
    """Write `generate(n, seed)` as a Kaggle `train.json`, atomically: no partial file."""
    records = generate(n=n, seed=seed)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(records, handle, separators=(",", ":"))
