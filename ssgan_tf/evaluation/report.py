"""One self-contained HTML page of a training run (`python -m ssgan_tf.report --model_dir=D`):
what a user would otherwise start TensorBoard for.

The page holds, from the model_dir alone:
- the scalar curves the training loop logged (`D/train/events.*`): losses, rotation / class
  accuracies, throughput, hook scalars; one figure per group (D's losses, G's losses, ...);
- the curves the evaluation hooks wrote (`D/**/*_curve.json`: FID / KID / PRDC / rotation
  accuracy from `MetricsHook`, per-block probe accuracy from `LinearProbeHook`);
- the latest sample grid (`D/samples/step_*.png`);
- `summary.json`, `model.json` and the operative gin config.
Figures are PNGs embedded as base64, so the page is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import glob
import html
import io
import json
import os
import re
from typing import Dict, List, Sequence, Tuple

import tensorflow as tf

from ssgan_tf.common.errors import SsganError

Series = Dict[str, List[Tuple[int, float]]]

# Groups of hook-curve keys (records of the *_curve.json files) -> figure title and y label.
CURVE_GROUPS = (
    (r"^(fid|domain_fd)$", "Fréchet distance (lower is better)", "FID / domain FD"),
    (r"^(kid|domain_kid)$", "KID (lower is better)", "KID"),
    (r"^(domain_)?(precision|recall|density|coverage)$", "precision / recall / density / "
     "coverage", "value"),
    (r"^rotation_accuracy", "rotation accuracy of D's head", "accuracy"),
    (r"^(block\d+|final)$", "linear probe accuracy per D block", "top-1 accuracy"),
)


# ------------------------------------------------------------------------------ reading
def read_scalars(model_dir: str) -> Series:
    """{tag: [(step, value), ...]} of every scalar in `model_dir/train`'s event files."""
    series: Series = {}
    for path in sorted(glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars" and not value.HasField(
                        "simple_value"):
                    continue
                number = (value.simple_value if value.HasField("simple_value")
                          else float(tf.make_ndarray(value.tensor)))
                series.setdefault(value.tag, []).append((int(event.step), number))
    return {tag: sorted(dict(points).items()) for tag, points in series.items()}


def read_curves(model_dir: str) -> Dict[str, Tuple[List[dict], dict]]:
    """{relative path: (records, settings)} of the hooks' `*_curve.json` files."""
    curves = {}
    for path in sorted(glob.glob(os.path.join(model_dir, "**", "*_curve.json"), recursive=True)):
        with open(path) as f:
            data = json.load(f)
        curves[os.path.relpath(path, model_dir)] = (data.get("records", []),
                                                    data.get("settings", {}))
    return curves


def latest_samples(model_dir: str) -> str | None:
    """The sample grid of the highest step (`samples/step_NNNNNN.png`)."""
    paths = glob.glob(os.path.join(model_dir, "samples", "step_*.png"))
    return max(paths, key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]),
               default=None)


def _read_text(model_dir: str, names: Sequence[str]) -> Tuple[str, str] | None:
    for name in names:
        path = os.path.join(model_dir, name)
        if os.path.isfile(path):
            with open(path) as f:
                return name, f.read()
    return None


# ------------------------------------------------------------------------------ figures
def scalar_groups(series: Series) -> Dict[str, Series]:
    """Figures of the event scalars: by the tag's first part, losses split into D and G."""
    groups: Dict[str, Series] = {}
    for tag, points in series.items():
        head, _, name = tag.rpartition("/")
        title = head or "scalars"
        if head == "losses":
            title = "discriminator losses" if name.startswith("d_") else "generator losses"
        groups.setdefault(title, {})[name or tag] = points
    return dict(sorted(groups.items()))


def curve_groups(records: List[dict]) -> List[Tuple[str, str, Series]]:
    """(title, y label, series) per family of keys in a hook curve's records."""
    keys = sorted({k for r in records for k, v in r.items()
                   if k not in ("step", "seconds") and isinstance(v, (int, float))})
    out = []
    for pattern, title, ylabel in CURVE_GROUPS:
        chosen = [k for k in keys if re.search(pattern, k)]
        if chosen:
            out.append((title, ylabel, {k: [(r["step"], r[k]) for r in records if k in r]
                                        for k in chosen}))
            keys = [k for k in keys if k not in chosen]
    if keys:
        out.append(("other hook values", "value",
                    {k: [(r["step"], r[k]) for r in records if k in r] for k in keys}))
    return out


def figure_png(series: Series, title: str, ylabel: str) -> bytes:
    """One line per series, value against generator step, as PNG bytes."""
    import matplotlib  # heavy; only the report draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for name, points in series.items():
        steps, values = zip(*points) if points else ((), ())
        ax.plot(steps, values, marker="o" if len(points) < 30 else None, ms=3, label=name)
    ax.set_xlabel("generator step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(series) > 1 or any(series.values()):
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ page
def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figure(png: bytes, caption: str) -> str:
    return (f"<figure>{_img(png, caption)}<figcaption>{html.escape(caption)}</figcaption>"
            "</figure>")


def _table(values: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in sorted(values.items()))
    return f"<table>{rows}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:75em}figure{display:inline-block;"
         "margin:0 1em 1em 0}figcaption{font-size:80%;color:#555}table{border-collapse:collapse;"
         "font-size:85%}th,td{border:1px solid #ddd;padding:2px 8px;text-align:left}"
         "pre{background:#f6f6f6;padding:1em;font-size:80%;overflow:auto}"
         "img.samples{image-rendering:pixelated;max-width:40em}")


def _training_section(model_dir: str) -> Tuple[str, int]:
    groups = scalar_groups(read_scalars(model_dir))
    if not groups:
        return "<p>No scalars in train/ (no TensorBoard events yet).</p>", 0
    figures = [_figure(figure_png(s, title, "value"), title) for title, s in groups.items()]
    return "".join(figures), len(figures)


def _hooks_section(model_dir: str) -> Tuple[str, int]:
    parts, count = [], 0
    for name, (records, settings) in read_curves(model_dir).items():
        figures = [_figure(figure_png(s, title, ylabel), f"{title} ({name})")
                   for title, ylabel, s in curve_groups(records)]
        count += len(figures)
        warning = settings.get("warning")
        parts.append(f"<h3>{html.escape(name)}</h3>" + "".join(figures)
                     + (f"<p><b>warning:</b> {html.escape(warning)}</p>" if warning else "")
                     + (f"<details><summary>settings</summary>{_table(settings)}</details>"
                        if settings else ""))
    return "".join(parts) or "<p>No evaluation hook ran (no *_curve.json).</p>", count


def _samples_section(model_dir: str) -> str:
    path = latest_samples(model_dir)
    if path is None:
        return "<p>No sample grid yet.</p>"
    with open(path, "rb") as f:
        png = f.read()
    caption = f"samples/{os.path.basename(path)}"
    return (f'<figure><img class="samples" alt="{caption}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _files_section(model_dir: str) -> str:
    parts = []
    for names, title in ((("summary.json",), "summary.json"), (("model.json",), "model.json")):
        found = _read_text(model_dir, names)
        if found:
            parts.append(f"<h3>{title}</h3>{_table(json.loads(found[1]))}")
    config = _read_text(model_dir, ("operative_config.gin", "config.gin"))
    if config:
        parts.append(f"<h3>{config[0]}</h3><pre>{html.escape(config[1])}</pre>")
    return "".join(parts)


def render_report(model_dir: str) -> Tuple[str, dict]:
    """(the HTML page, counts of what it shows)."""
    training, n_training = _training_section(model_dir)
    hooks, n_hooks = _hooks_section(model_dir)
    title = f"ssgan_tf run {os.path.abspath(model_dir)}"
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Training curves</h2>{training}<h2>Evaluation over training</h2>{hooks}"
            f"<h2>Latest samples</h2>{_samples_section(model_dir)}"
            f"<h2>Run</h2>{_files_section(model_dir)}</body></html>\n")
    return page, {"training_figures": n_training, "hook_figures": n_hooks,
                  "samples": latest_samples(model_dir)}


def write_report(model_dir: str, output: str | None = None) -> Tuple[str, dict]:
    """Writes the page (default `model_dir/report.html`) atomically; returns (path, counts)."""
    markers = ("model.json", "train", "checkpoints", "samples")
    if not os.path.isdir(model_dir) or not any(
            os.path.exists(os.path.join(model_dir, m)) for m in markers):
        raise SsganError(f"--model_dir={model_dir!r} is not an ssgan_tf training directory "
                         "(expected model.json, train/, checkpoints/ or samples/ in it; "
                         "`python -m ssgan_tf.train --model_dir=D` writes them).")
    page, counts = render_report(model_dir)
    output = output or os.path.join(model_dir, "report.html")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = f"{output}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, output)
    return output, counts


__all__ = ["read_curves", "read_scalars", "render_report", "write_report"]
