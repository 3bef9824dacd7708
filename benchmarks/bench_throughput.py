"""Training FLOP/s against this CPU's measured conv ceiling; inference speed.

Counts the FLOPs of one training step with torch.utils.flop_counter, times
training steps of the default network (fp32 channels-last, as fit uses), and
probes the ceiling with a 64->64 3x3 conv at batch 256 (fp32 and bf16,
channels-last) in the same run. Then times ``predict_proba`` at batch 256
over 10,000 images: the 'reference' model through skorch's unfolded path (as
the library predicted before batch norm was folded) and through the folded
path, and the default model in float32 and int8 (``quantize=True``), plus
single-image latency; it prints the ratio to the reference.

With ``--runtimes``, the shipped model on the 10,000 test images through
torch (float32, int8) and onnxruntime (the exported file, float32 and
int8 from ``export(..., int8_calibration=X)``): accuracy and images/s.

    .venv/bin/python benchmarks/bench_throughput.py
    FASHIONCLF_DATA=../shared/data/fashion-mnist .venv/bin/python \
        benchmarks/bench_throughput.py --runtimes
"""

import argparse
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from fashionclf import load_sample
from fashionclf.networks import BlockCNN
from fashionclf.presets import make_cnn


def _timeit(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_ceiling(dtype: torch.dtype, reps: int = 5) -> float:
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(256, 64, 28, 28).contiguous(memory_format=torch.channels_last)
    flops = 2 * 256 * 64 * 64 * 9 * 28 * 28

    def run():
        with (
            torch.no_grad(),
            torch.autocast(
                "cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16
            ),
        ):
            conv(x)

    return flops / _timeit(run, reps) / 1e9


def train_step_flops(model, x, y) -> int:
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--runtimes",
        action="store_true",
        help="also compare torch and onnxruntime, float32 and int8, on the shipped "
        "model and the full test set (needs FASHIONCLF_DATA and fashionclf[onnx])",
    )
    ap.add_argument(
        "--serving",
        action="store_true",
        help="only compare the library's predict_proba with ONNX Runtime on the "
        "exported float file, at 1 and 2 threads, with several session options "
        "(needs FASHIONCLF_DATA and fashionclf[onnx]); run it alone",
    )
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument(
        "--out-dir",
        default="benchmarks/results",
        help="--serving writes results/<machine>/<commit>-<date>-serving.json here",
    )
    args = ap.parse_args()
    if args.serving:
        compare_serving(args.reps, args.out_dir)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BlockCNN().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    x = torch.randn(256, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (256,))
    flops = train_step_flops(model, x, y)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    t = _timeit(step, 10)
    achieved = flops / t / 1e9
    fp32, bf16 = conv_ceiling(torch.float32), conv_ceiling(torch.bfloat16)
    print(
        f"training step: {flops / 256 / 1e6:.1f} MFLOP per image, {256 / t:,.0f} img/s, "
        f"{achieved:.0f} GFLOP/s (fp32 channels-last)"
    )
    print(
        f"ceiling probes (64->64 3x3 conv, batch 256, channels-last): fp32 {fp32:.0f} "
        f"GFLOP/s, bf16 {bf16:.0f} GFLOP/s"
    )
    best = max(fp32, bf16)
    print(
        f"training throughput = {100 * achieved / best:.0f}% of the best conv "
        f"ceiling measured here ({100 * achieved / bf16:.0f}% of bf16; target >= 50%)"
    )

    X, yl = load_sample(subset="all", return_X_y=True)
    Xt = np.tile(X, (4, 1))[:10000]

    def fitted(preset: str, **kw):
        return make_cnn(preset, max_epochs=1, random_state=0, **kw).fit(
            X[:512], yl[:512]
        )

    # Inference target: float32 predict_proba at batch 256 vs the reference
    # model as it predicted before (skorch's predict_proba on the unfolded
    # module), all in this run.
    ref = fitted("reference")
    images = ref._to_images(Xt, reset=False)
    rates = {
        "reference, skorch path (before)": 10000
        / _timeit(lambda: ref.net_.predict_proba(images), 3),
        "reference, folded path": 10000 / _timeit(lambda: ref.predict_proba(Xt), 3),
    }
    default = fitted("default", quantize=True)
    for quantize in (False, True):
        default.set_params(quantize=quantize)
        key = f"default, {'int8' if quantize else 'float32 folded path'}"
        rates[key] = 10000 / _timeit(lambda: default.predict_proba(Xt), 3)
        lat = 1000 * _timeit(lambda: default.predict(Xt[:1]), 50)
        print(f"{key}: single-image predict latency {lat:.2f} ms (median of 50)")
    for key, rate in rates.items():
        print(f"inference, {key}: {rate:,.0f} img/s at batch 256")
    base = rates["reference, skorch path (before)"]
    fp32 = rates["default, float32 folded path"]
    int8 = rates["default, int8"]
    print(
        f"target: default float32 / reference before = {fp32 / base:.2f} (>= 1.5); "
        f"default int8 = {int8:,.0f} img/s ({int8 / 15000:.2f} of 15,000), "
        f"int8 / float32 = {int8 / fp32:.2f}"
    )
    if args.runtimes:
        compare_runtimes(args.threads)


def onnx_runtime(model, X_calib, threads: int, folder) -> dict:
    """Sessions for ``model`` exported to ONNX: float32, and int8.

    The int8 file is the library's own ``export(..., int8_calibration=)``
    (ONNX Runtime's static quantization, QOperator, per-channel int8
    weights, uint8 activations, ReLU moved before each max-pool), calibrated
    on ``X_calib``, the 2,048 training rows ``quantize=True`` uses here.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    files = {
        "float32": model.export(folder / "model.onnx"),
        "int8 (export(int8_calibration=))": model.export(
            folder / "int8.onnx", int8_calibration=X_calib
        ),
    }
    return {
        name: ort.InferenceSession(
            str(file), options, providers=["CPUExecutionProvider"]
        )
        for name, file in files.items()
    }


def _ort_proba(session, X: np.ndarray, batch: int = 256) -> np.ndarray:
    X = X.astype(np.float32)
    return np.concatenate(
        [
            session.run(None, {"pixels": X[i : i + batch]})[0]
            for i in range(0, len(X), batch)
        ]
    )


def torchao_pt2e(model, X_calib: np.ndarray):
    """int8 through torchao's ``torch.export`` route (PT2E), lowered for x86.

    ``model.inference_module()`` (pixel rows in, probabilities out) is
    exported, annotated by torchao's ``X86InductorQuantizer`` (its default:
    per-channel int8 weights, uint8 activations), calibrated on ``X_calib``,
    converted and lowered to oneDNN's int8 kernels with
    ``lower_pt2e_quantized_to_x86`` (eager; no ``torch.compile``). Returns a
    function of pixel rows, or ``None`` when torchao is not installed.
    """
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError:
        print("torchao is not installed: its PT2E int8 route is not measured")
        return None
    module = model.inference_module().eval()
    example = (torch.as_tensor(X_calib[:256], dtype=torch.float32),)
    graph = torch.export.export(module, example).module()
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for i in range(0, len(X_calib) - 255, 256):  # whole batches: the shape is fixed
            prepared(torch.as_tensor(X_calib[i : i + 256], dtype=torch.float32))
    lowered = lower_pt2e_quantized_to_x86(convert_pt2e(prepared), example)

    def proba(X: np.ndarray, batch: int = 256) -> np.ndarray:
        with torch.no_grad():
            parts = []
            for i in range(0, len(X), batch):
                rows = torch.as_tensor(X[i : i + batch], dtype=torch.float32)
                if len(rows) < batch:  # the lowered graph keeps the example's shape
                    pad = torch.zeros(batch - len(rows), rows.shape[1])
                    parts.append(lowered(torch.cat([rows, pad]))[: len(rows)])
                else:
                    parts.append(lowered(rows))
        return torch.cat(parts).numpy()

    return proba


def compare_runtimes(threads: int) -> None:
    """The shipped model on the 10,000 test images: accuracy and images/s.

    torch float32 (folded), torch int8 (``quantize=True``, torch.ao), torch
    int8 through torchao's PT2E route when torchao is installed, and
    onnxruntime float32 and int8 on the exported file, all at batch 256 in
    this run. Needs the full data (``FASHIONCLF_DATA``) and the ``onnx`` extra.
    """
    import tempfile
    from pathlib import Path

    from fashionclf import FashionCNNClassifier, fetch_fashion_mnist

    X = fetch_fashion_mnist(subset="train", return_X_y=True)[0]
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    Xt, yt = np.asarray(Xt), np.asarray(yt)
    calib = np.asarray(X)[np.random.default_rng(0).permutation(len(X))[:2048]]
    model = FashionCNNClassifier.pretrained()
    model.set_params(num_threads=threads)
    int8 = model.quantize_int8(calib)  # a quantized copy
    rows = {
        "torch float32 (folded)": lambda A: model.predict_proba(A),
        "torch int8 (quantize=True, torch.ao)": lambda A: int8.predict_proba(A),
    }
    pt2e = torchao_pt2e(model, calib)
    if pt2e is not None:
        rows["torch int8 (torchao PT2E, x86 lowering)"] = pt2e
    with tempfile.TemporaryDirectory() as tmp:
        sessions = onnx_runtime(model, calib, threads, Path(tmp))
        for name, session in sessions.items():
            rows[f"onnxruntime {name}"] = lambda A, s=session: _ort_proba(s, A)
        base = None
        for name, proba in rows.items():
            accuracy = float((proba(Xt).argmax(1) == yt).mean())
            rate = len(Xt) / _timeit(lambda p=proba: p(Xt), 3)
            base = base or rate
            print(
                f"{name}: accuracy {100 * accuracy:.2f}%, {rate:,.0f} img/s "
                f"({rate / base:.2f}x torch float32)"
            )


def compare_serving(reps: int, out_dir: str) -> None:
    """The shipped model on the 10,000 test images: library vs ONNX Runtime float.

    For 1 and 2 threads: ``predict_proba`` (``num_threads``, batch 256) and
    ONNX Runtime on ``export("model.onnx")`` at batch 256 and 1,024 with the
    default session options (sequential, all graph optimizations,
    ``intra_op_num_threads``), without thread spinning, and on the
    ``input_dtype='uint8'`` file fed the loaders' uint8 rows. Each
    configuration is timed ``reps`` times, the configurations interleaved
    round by round, and the median is reported with its ratio to the
    library at the same thread count.
    """
    import tempfile
    from pathlib import Path

    import onnxruntime as ort

    from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
    from fashionclf.evaluation.results import write_record

    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    Xt, yt = np.asarray(Xt), np.asarray(yt)
    Xf = Xt.astype(np.float32)
    model = FashionCNNClassifier.pretrained()

    def session(file, threads, spinning=True):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(
            str(file), options, providers=["CPUExecutionProvider"]
        )

    def batched(sess, X, batch):
        return np.concatenate(
            [
                sess.run(None, {"pixels": X[i : i + batch]})[0]
                for i in range(0, len(X), batch)
            ]
        )

    with tempfile.TemporaryDirectory() as tmp:
        f32 = model.export(Path(tmp) / "f32.onnx")
        u8 = model.export(Path(tmp) / "u8.onnx", input_dtype="uint8")
        configs = {}
        for t in (1, 2):
            lib = FashionCNNClassifier.pretrained().set_params(num_threads=t)
            configs[(t, "library predict_proba, batch 256")] = (
                lambda A, m=lib: m.predict_proba(A),
                Xt,
            )
            s = session(f32, t)
            configs[(t, "ORT float32 file, batch 256")] = (
                lambda A, s=s: batched(s, A, 256),
                Xf,
            )
            configs[(t, "ORT float32 file, batch 1024")] = (
                lambda A, s=s: batched(s, A, 1024),
                Xf,
            )
            s = session(f32, t, spinning=False)
            configs[(t, "ORT float32 file, batch 256, no spinning")] = (
                lambda A, s=s: batched(s, A, 256),
                Xf,
            )
            s = session(u8, t)
            configs[(t, "ORT uint8-input file, batch 256")] = (
                lambda A, s=s: batched(s, A, 256),
                Xt,
            )
        times: dict = {key: [] for key in configs}
        accuracy = {}
        for key, (fn, X) in configs.items():  # warm-up, and the accuracy
            accuracy[key] = float((fn(X).argmax(1) == yt).mean())
        for _ in range(reps):
            for key, (fn, X) in configs.items():
                t0 = time.perf_counter()
                fn(X)
                times[key].append(time.perf_counter() - t0)
    rows = []
    for (t, name), runs in times.items():
        rate = len(Xt) / statistics.median(runs)
        lib = len(Xt) / statistics.median(
            times[(t, "library predict_proba, batch 256")]
        )
        rows.append(
            {
                "threads": t,
                "path": name,
                "accuracy": accuracy[(t, name)],
                "img_per_s": round(rate),
                "vs_library": round(rate / lib, 3),
                "runs_s": [round(r, 4) for r in runs],
            }
        )
        print(
            f"{t} thread(s), {name}: {rate:,.0f} img/s ({rate / lib:.2f}x the "
            f"library), accuracy {100 * accuracy[(t, name)]:.2f}%"
        )
    path = write_record("serving", rows, root=out_dir, summary={"reps": reps})
    print("wrote", path)


if __name__ == "__main__":
    main()
