"""Benchmarks of fcnviewer: ``python benchmarks/run.py [--quick] [--device D] [--sections ...] [--out FILE]``.

Prints one JSON document (and writes it to ``--out``) with the sections asked for:

- ``forward``: ``Predictor.predict`` on a uint8 image (preprocessing and post-processing
  included) beside a plain eager float32 forward of the same network (``model(x)`` under
  ``torch.no_grad``, NCHW, contiguous, on the preprocessed tensor), interleaved run by run;
  ``ratio`` = predictor / eager (medians). Full-width FCN-8s VGG16 at 500x500, the bundled
  model at 512x512, torchvision's FCN-ResNet50 at 500x500 for context. On the CPU, full-width
  FCN-8s also runs in ONNX Runtime (``ort_s``, ``ort_ratio`` = predictor / ORT), exported with
  ``torch.onnx`` (``benchmarks/ort_peer.py``; needs ``pip install .[bench]``, else ``null``).
  ``predictor_logits_s``: ``predict`` with its full-size scores read (copied to the host on a GPU);
  on CUDA, for full-width FCN-8s, ``compiled_forward_s``: the network through ``torch.compile``'s
  CUDA graphs.
- ``erf``: one effective receptive field (what a click computes) against one forward.
- ``gui``: ``benchmarks/gui_bench.py`` in a subprocess (offscreen Qt).
- ``startup``: ``python main.py IMAGE`` to the window shown and to the first prediction drawn.
- ``memory``: a 4096x4096 image through full-width FCN-8s on the CPU, in a fresh process (peak RSS).
- ``dense``: VGG16's dense class-score map at 500x500 against the classifier run on each of its 81
  crops (224x224, the same grid), one run each (``benchmarks/conv_equivalence.py``); the FCN paper's
  speed claim (its Figure 2), on the CPU.
- ``machine``: always.

Timings on a shared machine are noisy: every entry has the median and the minimum of its runs,
and the CPU time of this process (less sensitive to other processes); ``machine.load``
has the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECTIONS = ("forward", "erf", "gui", "startup", "memory", "dense")


# ----------------------------------------------------------------------------- helpers


def machine() -> dict[str, Any]:
    """CPU, cores, GPU, versions, date and load."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    mem_gb = None
    with contextlib.suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": mem_gb,
        "gpu": gpus or None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def _stats(wall: list[float], cpu: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(wall), 4),
        "min_s": round(min(wall), 4),
        "cpu_median_s": round(statistics.median(cpu), 4),
        "runs_s": [round(t, 4) for t in wall],
    }


def interleaved(fns: dict[str, Callable[[], Any]], warmup: int, n: int, device: Any) -> dict[str, dict[str, Any]]:
    """Warm each of ``fns`` up, then time them in turn ``n`` times (so load changes hit them alike)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
            _sync(device)
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(n):
        for name, fn in fns.items():
            _sync(device)
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            _sync(device)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {k: _stats(wall[k], cpu[k]) for k in fns}


def test_image(height: int, width: int, seed: int = 0) -> Any:
    """A deterministic RGB uint8 image with some structure (gradients and noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width]
    base = np.stack([(x // 3) % 256, (y // 2) % 256, ((x + y) // 4) % 256], axis=-1)
    return (base + rng.integers(0, 40, base.shape)).clip(0, 255).astype(np.uint8)


def devices(asked: str | None) -> list[str]:
    import torch

    if asked and asked != "all":
        return [asked]
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def precisions(device: str) -> list[str]:
    """float32, and the faster precision the device computes natively (what ``auto`` picks there)."""
    from fcnviewer.core.devices import cpu_has_bfloat16

    if device == "cpu":
        return ["float32", "bfloat16"] if cpu_has_bfloat16() else ["float32"]
    return ["float16", "float32"]


def bundled() -> tuple[Any, str | None]:
    """The bundled model (``LoadedModel``) or ``None`` with why."""
    from fcnviewer.core.checkpoints import CheckpointError, load_checkpoint
    from fcnviewer.core.resources import default_checkpoint_path

    path = default_checkpoint_path()
    if not path.exists():
        return None, f"{path.relative_to(ROOT)} does not exist (yet)"
    try:
        return load_checkpoint(path), None
    except CheckpointError as exc:
        return None, str(exc)


# ----------------------------------------------------------------------------- forward


def ort_peer(loaded: Any, size: int) -> dict[str, Any]:
    """An ONNX Runtime CPU session of ``loaded``'s logits for ``size`` x ``size`` inputs, with the export's cost.

    ``{"session": None, "note": ...}`` when onnxruntime is not installed.
    """
    import torch
    from ort_peer import OPSET, cpu_session, export_logits, ort_version

    version = ort_version()
    if version is None:
        return {"session": None, "note": "onnxruntime or onnx not installed (pip install .[bench]): no ORT peer"}
    x = loaded.info.preprocessing.to_tensor(test_image(size, size))
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:  # ORT reads the whole file into the session
        path = Path(tmp) / "network.onnx"
        export_s = export_logits(loaded.model, x, path)
        t0 = time.perf_counter()
        session = cpu_session(path, threads)
        session_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
    info = {
        "onnxruntime": version,
        "exporter": f"torch.onnx.export(dynamo=False), opset {OPSET}, input fixed at {size}x{size}",
        "graph_optimization_level": "ORT_ENABLE_ALL",
        "provider": "CPUExecutionProvider",
        "intra_op_threads": threads,
        "export_s": round(export_s, 2),
        "session_s": round(session_s, 2),
        "onnx_mb": round(size_mb, 1),
    }
    return {"session": session, "info": info}


def compiled_forward(predictor: Any, x: Any) -> tuple[Callable[[], Any] | None, str | None]:
    """The predictor's network through ``torch.compile(mode="reduce-overhead")`` (CUDA graphs), warmed
    up; ``(None, why)`` when it cannot compile here."""
    import torch

    net = predictor._net  # the network predict runs (precision, channels-last)
    x = x.to(dtype=predictor.dtype).contiguous(memory_format=torch.channels_last)
    try:
        graphed = torch.compile(net, mode="reduce-overhead", dynamic=False)
        with torch.inference_mode():
            for _ in range(3):  # compile, record the graph, replay
                graphed(x)
    except Exception as error:  # a benchmark row, not a product path: say why and go on
        return None, f"torch.compile failed: {type(error).__name__}: {error}"[:300]

    def run() -> Any:
        with torch.inference_mode():
            return graphed(x)

    return run, None


def bench_network(
    name: str,
    loaded: Any,
    size: int,
    device: str,
    precision: str,
    warmup: int,
    n: int,
    ort: dict[str, Any] | None = None,
    graphs: bool = False,
) -> dict[str, Any]:
    """Predictor.predict (and Predictor.forward) against the plain eager fp32 forward of the same weights
    (and ONNX Runtime's float32 forward of them when ``ort``, from ``ort_peer``, has a session; and
    with ``graphs`` on CUDA, the network through CUDA graphs: a minute or more of compiling)."""
    import torch
    from ort_peer import run_logits

    from fcnviewer.core.inference import Predictor

    eager_model = copy.deepcopy(loaded.model).eval().to(device=device, dtype=torch.float32)  # the plain network
    predictor = Predictor(loaded, device=device, precision=precision)
    image = test_image(size, size)
    x = loaded.info.preprocessing.to_tensor(image).to(device).contiguous()

    def eager() -> Any:
        with torch.no_grad():
            return eager_model(x)

    fns = {
        "predictor": lambda: predictor.predict(image),
        "predictor_logits": lambda: predictor.predict(image).logits,  # the full-size scores copied too
        "predictor_forward": lambda: predictor.forward(x),
        "eager": eager,
    }
    graphed, graph_note = compiled_forward(predictor, x) if graphs and device == "cuda" else (None, None)
    if graphed is not None:
        fns["compiled_forward"] = graphed
    session = ort["session"] if ort else None
    if session is not None:
        x_np = x.cpu().numpy()
        fns["ort"] = lambda: run_logits(session, x_np)
    timings = interleaved(fns, warmup, n, device)
    with torch.no_grad():
        want = eager_model(x)["out"].float()
    got = torch.from_numpy(predictor.predict(image).logits).to(want.device)
    rel = float((got - want[0]).abs().max() / want.abs().max().clamp_min(1e-12))
    agree = float((got.argmax(0) == want[0].argmax(0)).float().mean())
    pred, eag = timings["predictor"], timings["eager"]
    result = {
        "network": name,
        "size": [size, size],
        "device": str(predictor.device),
        "precision": precision,
        "params_m": round(sum(p.numel() for p in loaded.model.parameters()) / 1e6, 1),
        "predictor_s": pred["median_s"],
        "predictor_forward_s": timings["predictor_forward"]["median_s"],
        "eager_fp32_s": eag["median_s"],
        "ratio": round(pred["median_s"] / eag["median_s"], 3),
        "ratio_min": round(pred["min_s"] / eag["min_s"], 3),
        "ratio_cpu_time": round(pred["cpu_median_s"] / eag["cpu_median_s"], 3) if device == "cpu" else None,
        "forward_ratio": round(timings["predictor_forward"]["median_s"] / eag["median_s"], 3),
        "predictor_logits_s": timings["predictor_logits"]["median_s"],
        "compiled_forward_s": timings["compiled_forward"]["median_s"] if graphed else None,
        "compiled_note": graph_note,
        "max_rel_diff_vs_eager": float(f"{rel:.3g}"),
        "label_agreement": round(agree, 5),
        "timings": timings,
    }
    if session is not None:  # ONNX Runtime's float32 logits against eager float32, as the predictor's above
        got_ort = torch.from_numpy(run_logits(session, x_np))[0].to(want.device)
        ort_rel = float((got_ort - want[0]).abs().max() / want.abs().max().clamp_min(1e-12))
        peer = timings["ort"]
        result.update(
            {
                "ort_s": peer["median_s"],
                "ort_ratio": round(pred["median_s"] / peer["median_s"], 3),
                "ort_ratio_min": round(pred["min_s"] / peer["min_s"], 3),
                "ort_ratio_cpu_time": round(pred["cpu_median_s"] / peer["cpu_median_s"], 3),
                "ort_max_rel_diff": float(f"{ort_rel:.3g}"),
                "ort_label_agreement": round(float((got_ort.argmax(0) == want[0].argmax(0)).float().mean()), 5),
            }
        )
    elif ort is not None:
        result.update({"ort_s": None, "ort_ratio": None, "ort_max_rel_diff": None, "ort_note": ort["note"]})
    return result


def section_forward(args: argparse.Namespace) -> dict[str, Any]:
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

    warmup, n = (1, 3) if args.quick else (2, 7)
    out: dict[str, Any] = {"warmup": warmup, "runs": n, "results": [], "notes": []}
    ort: dict[str, Any] | None = None
    for device in devices(args.device):
        for precision in precisions(device):
            spec = ArchSpec("fcn8s")
            loaded = LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec))
            if device == "cpu" and ort is None:  # one export serves every CPU precision (same seed, same weights)
                ort = ort_peer(loaded, 500)
                out["ort"] = ort.get("info") or {"note": ort["note"]}
            peer = ort if device == "cpu" else None
            out["results"].append(
                bench_network("fcn8s-vgg16 (full width)", loaded, 500, device, precision, warmup, n, peer, graphs=True)
            )
            _progress(out["results"][-1])
            model, why = bundled()
            if model is None:
                out["notes"].append(f"bundled model skipped: {why}")
            else:
                out["results"].append(
                    bench_network(
                        f"bundled {model.info.spec.arch} x{model.info.spec.width:g}",
                        model,
                        512,
                        device,
                        precision,
                        warmup,
                        n,
                    )
                )
                _progress(out["results"][-1])
            spec = ArchSpec("fcn_resnet50")
            loaded = LoadedModel(build_model(spec).eval(), ModelInfo.default_for(spec))
            out["results"].append(
                bench_network("torchvision fcn_resnet50 (random weights)", loaded, 500, device, precision, warmup, n)
            )
            _progress(out["results"][-1])
    out["notes"] = sorted(set(out["notes"]))
    return out


def _progress(result: dict[str, Any]) -> None:
    ort = f", ORT {result['ort_s']} s, ort_ratio {result['ort_ratio']}" if result.get("ort_s") else ""
    print(
        f"  {result['network']} {result['device']} {result['precision']}: predictor {result['predictor_s']} s, "
        f"eager {result['eager_fp32_s']} s, ratio {result['ratio']}{ort}",
        file=sys.stderr,
        flush=True,
    )


# ----------------------------------------------------------------------------- erf


def section_erf(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights
    from fcnviewer.core.receptive import effective_receptive_field, effective_receptive_fields

    loaded, why = bundled()
    note = None
    if loaded is None:
        spec = ArchSpec("fcn8s", 21, 1 / 8)
        loaded = LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec))
        note = f"bundled model missing ({why}): a random width-1/8 FCN-8s instead"
    device = "cpu" if args.device in (None, "all") else args.device
    predictor = Predictor(loaded, device=device)
    size = 512
    image = test_image(size, size)
    x = loaded.info.preprocessing.to_tensor(image, predictor.device)  # float32, as predictor.model
    warmup, n = (1, 3) if args.quick else (1, 7)
    timings = interleaved(
        {
            "forward": lambda: predictor.forward(x),
            "predict": lambda: predictor.predict(image),
            "erf_final": lambda: effective_receptive_field(predictor.model, x, size // 2, size // 3),
            "erf_all_stages": lambda: effective_receptive_fields(predictor.model, x, size // 2, size // 3),
        },
        warmup,
        n,
        predictor.device,
    )
    fwd = timings["forward"]["median_s"]
    del torch
    return {
        "network": f"{loaded.info.spec.arch} x{loaded.info.spec.width:g}",
        "size": [size, size],
        "device": str(predictor.device),
        "forward_s": fwd,
        "erf_final_s": timings["erf_final"]["median_s"],
        "erf_all_stages_s": timings["erf_all_stages"]["median_s"],
        "erf_final_over_forward": round(timings["erf_final"]["median_s"] / fwd, 2),
        "erf_all_stages_over_forward": round(timings["erf_all_stages"]["median_s"] / fwd, 2),
        "timings": timings,
        "note": note,
    }


# ----------------------------------------------------------------------------- gui, startup


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def section_gui(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gui_bench.py")] + (["--quick"] if args.quick else [])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=_env(), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": "gui_bench.py timed out after 900 s"}
    result = _last_json(done.stdout)
    if result is None:
        return {"error": f"gui_bench.py exited {done.returncode} without a result", "stderr_tail": done.stderr[-2000:]}
    return result


def _random_checkpoint(folder: Path) -> Path:
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

    spec = ArchSpec("fcn8s", 21, 1 / 8)
    return save_checkpoint(
        folder / "fcn8s-w8-random.safetensors", randomize_weights(build_model(spec)), ModelInfo.default_for(spec)
    )


def section_startup(args: argparse.Namespace) -> dict[str, Any]:
    """``python main.py IMAGE`` to the first prediction drawn (FCNVIEWER_E2E_REPORT), and
    ``import + MainWindow + show`` to the window shown (``gui_bench.py --startup``)."""
    from PIL import Image

    out: dict[str, Any] = {}
    runs = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = folder / "startup.png"
        Image.fromarray(test_image(512, 512)).save(image)
        shown: list[float] = []
        inside: list[dict[str, Any]] = []
        for _ in range(runs):
            launched = time.time()
            done = subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "gui_bench.py"), "--startup"],
                capture_output=True,
                text=True,
                timeout=300,
                env=_env({"XDG_CONFIG_HOME": str(folder / "config")}),
                cwd=ROOT,
            )
            result = _last_json(done.stdout)
            if result is None or "error" in result:
                out["window_shown"] = {"error": (result or {}).get("error") or done.stderr[-1500:]}
                break
            shown.append(result["shown_at_epoch"] - launched)  # wall clock: same machine, same clock
            inside.append(result)
        if shown:
            out["window_shown"] = {
                "what": "process launch -> `import fcnviewer.qt.main_window`, MainWindow(), show(), first paint",
                "median_s": round(statistics.median(shown), 3),
                "min_s": round(min(shown), 3),
                "import_main_window_s": round(statistics.median(r["import_main_window_s"] for r in inside), 3),
                "construct_window_s": round(statistics.median(r["construct_window_s"] for r in inside), 3),
                "runs": runs,
            }
        checkpoint, note = None, None
        if bundled()[0] is None:
            checkpoint = _random_checkpoint(folder)
            note = "bundled model missing: --checkpoint a random width-1/8 FCN-8s"
        first: list[float] = []
        error = None
        for i in range(runs):
            report = folder / f"report-{i}.json"
            cmd = [sys.executable, str(ROOT / "main.py"), str(image), "--device", "cpu"]
            if checkpoint is not None:
                cmd += ["--checkpoint", str(checkpoint)]
            env = _env({"FCNVIEWER_E2E_REPORT": str(report), "XDG_CONFIG_HOME": str(folder / "config")})
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                while time.perf_counter() - t0 < 180:
                    if report.exists() and report.stat().st_size > 0:
                        first.append(time.perf_counter() - t0)
                        break
                    if proc.poll() is not None:
                        error = f"main.py exited {proc.returncode}: {proc.stderr.read()[-1500:] if proc.stderr else ''}"
                        break
                    time.sleep(0.01)
                else:
                    error = "no prediction within 180 s"
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            if error:
                break
        out["first_prediction_shown"] = (
            {
                "what": "`python main.py IMAGE` (512x512) launch -> the E2E report of the first prediction",
                "median_s": round(statistics.median(first), 3),
                "min_s": round(min(first), 3),
                "runs": len(first),
                "note": note,
            }
            if first and not error
            else {"error": error or "no run"}
        )
    return out


# ----------------------------------------------------------------------------- memory


def memory_child(size: int) -> None:
    """In a fresh process: full-width FCN-8s on a ``size`` x ``size`` image on the CPU; prints JSON."""
    import torch

    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

    spec = ArchSpec("fcn8s")
    predictor = Predictor(LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec)), device="cpu")
    image = test_image(size, size)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    prediction = predictor.predict(image)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "network": "fcn8s-vgg16 (full width)",
                "size": [size, size],
                "device": "cpu",
                "threads": torch.get_num_threads(),
                "seconds": round(seconds, 2),
                "tiles": prediction.tiles,
                "tile_side": predictor.tile_side,
                "tile_overlap": predictor.overlap,
                "peak_rss_gb": round(peak / 1024**2, 2),
                "rss_before_predict_gb": round(rss_before / 1024**2, 2),
                "target_gb": 6,
                "under_target": peak / 1024**2 < 6,
            }
        )
    )


def section_memory(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", "4096"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=_env(), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 3600 s"}
    result = _last_json(done.stdout)
    return result if result is not None else {"error": f"exited {done.returncode}", "stderr_tail": done.stderr[-2000:]}


# ----------------------------------------------------------------------------- main


def section_dense(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.conv_equivalence import dense_vs_crops

    return dense_vs_crops(500)


def compact_json(data: Any) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(data, indent=2)

    def one_line(match: re.Match[str]) -> str:
        return "[" + ", ".join(match.group(1).split()).replace(",,", ",") + "]"

    return re.sub(r"\[\s*([-0-9.,e\s]+?)\s*\]", one_line, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--device", help="cpu, cuda, mps or all (default: every available device)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    report: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    runners = {
        "forward": section_forward,
        "erf": section_erf,
        "gui": section_gui,
        "startup": section_startup,
        "memory": section_memory,
        "dense": section_dense,
    }
    for name in sections:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            report[name] = runners[name](args)
        except Exception as exc:  # one section failing must not lose the others
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        if isinstance(report[name], dict):
            report[name]["section_seconds"] = round(time.perf_counter() - t0, 1)
    report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    text = compact_json(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
