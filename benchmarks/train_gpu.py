"""Train meshpose_xs on one GPU inside a fixed wall-time budget: the shipped weights and the
barycentric-vs-nearest ablation in one call (docs/training.md, "meshpose_xs on a GPU").

    python benchmarks/train_gpu.py --out runs/gpu --budget 420

Both arms run at once on the same GPU with the same seeds, data and steps; only `loss.bary_target`
differs. Samples are generated on the fly by DataLoader workers (CPU): on one GPU the generator,
not the network, sets the pace, so the step count is chosen from a throughput probe of the
generator on this machine, so that the cosine schedule ends inside the budget. The arms' folders
are ordinary run folders (`meshpose-train --resume` continues them). What to bring back is
written to `--pack`: the barycentric arm's final weights as a float16 checkpoint (the shipped
form) split into parts under 16 MiB, and both arms' metrics.

    python benchmarks/train_gpu.py --arm frozen=configs/blaze_gpu_frozen.toml \
        --arm finetune=configs/blaze_gpu.toml --out runs/blaze_gpu --pack /tmp/pack --budget 400

`--arm NAME=CONFIG` (repeatable) runs other arms instead, each from its own config file
(meshpose_blaze's second stage); then every arm's weights are packed, and the generator probe
draws samples with the first arm's synthetic settings at its model's input size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The probe's child processes import the package: a checkout that was never pip-installed (a GPU
# machine given a copy of the tree) has it only on this path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
ARMS = {"barycentric": [], "nearest": ["--set", "loss.bary_target=nearest"]}
PART_BYTES = 15 * 1024 * 1024


def _probe_worker(seconds: float, config: str, queue: mp.Queue) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    from meshpose_mobile.registry import make_config
    from meshpose_mobile.synth import SyntheticBodies
    from meshpose_mobile.topology import default_topology
    from meshpose_mobile.train.config import TrainConfig, read_config_file

    train = TrainConfig.from_dict(read_config_file(config))
    model = make_config(train.variant, default_topology())
    synth = train.data.synth_config(model.input_height, model.input_width)
    gen = SyntheticBodies(synth, 123 + os.getpid())
    gen.sample(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        gen.sample(n)
        n += 1
    queue.put(n / (time.perf_counter() - t0))


def probe(procs: int, seconds: float, config: str) -> float:
    """Samples per second of `procs` generator processes running together (`config`'s samples)."""
    queue: mp.Queue = mp.Queue()
    workers = [mp.Process(target=_probe_worker, args=(seconds, config, queue)) for _ in range(procs)]
    for w in workers:
        w.start()
    import queue as queue_mod

    try:
        # A worker that died (an import error, say) never answers: fail in seconds, not at the
        # device call's time limit (what happened to this driver's first GPU call).
        rates = [queue.get(timeout=seconds + 120) for _ in workers]
    except queue_mod.Empty:
        for w in workers:
            w.kill()
        raise SystemExit("error: the generator probe got no answer; run one probe worker by hand to see why") from None
    for w in workers:
        w.join()
    return float(sum(rates))


def pack(run: Path, dest: Path, name: str) -> list[str]:
    """Float16 copy of the run's final checkpoint, split into parts that fit the transfer limit."""
    import torch

    from meshpose_mobile.weights import half_state

    data = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    # As `weights.save_shipped` stores it; the run's own record (extra.train) stays for `ship`.
    data["state_dict"] = half_state(data["state_dict"])
    blob = dest / f"{name}.pt"
    torch.save(data, blob)
    raw = blob.read_bytes()
    blob.unlink()
    parts = []
    for i in range(0, len(raw), PART_BYTES):
        part = dest / f"{name}.pt.part{i // PART_BYTES}"
        part.write_bytes(raw[i : i + PART_BYTES])
        parts.append(part.name)
    return parts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="Folder of the two run folders.")
    ap.add_argument("--pack", type=Path, default=None, help="Folder for what comes back (weights parts, metrics).")
    ap.add_argument("--budget", type=float, default=420.0, help="Seconds of training wall time for both arms.")
    ap.add_argument("--config", default=str(ROOT / "configs" / "xs_gpu.toml"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--max-steps", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=None, help="Peak learning rate (default: the config's).")
    ap.add_argument("--hard-stop", type=float, default=None, help="Seconds after which the arms get SIGTERM.")
    ap.add_argument("--arms", default="barycentric,nearest")
    ap.add_argument(
        "--arm", action="append", default=[], metavar="NAME=CONFIG", help="An arm from its own config (repeatable)."
    )
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="Config override for every arm (repeatable)."
    )
    ap.add_argument("--steps", type=int, default=None, help="Steps per arm (default: from the generator probe).")
    args = ap.parse_args()
    # name -> (config file, extra trainer arguments)
    plans: dict[str, tuple[str, list[str]]] = {}
    for spec in args.arm:
        name, sep, path = spec.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise SystemExit(f"error: --arm {spec!r}: give NAME=CONFIG with an existing config file")
        plans[name] = (path, [])
    if not plans:
        plans = {a: (args.config, ARMS[a]) for a in args.arms.split(",") if a}
    arms = list(plans)
    args.out.mkdir(parents=True, exist_ok=True)

    # One core per arm's main process (GPU feeding, evaluation); the rest generate samples.
    workers = max(1, (args.cores - len(arms)) // len(arms))
    rate = probe(workers * len(arms), 10.0, plans[arms[0]][0])
    per_arm = rate / len(arms)
    # 0.8: collation, the evaluations and start-up eat into the generators' time.
    steps = args.steps or int(min(args.max_steps, max(20, 0.8 * per_arm * args.budget / args.batch_size)))
    eval_every = max(10, steps // 6)
    plan = {
        "generator_samples_per_s": round(rate, 1),
        "workers_per_arm": workers,
        "steps": steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "budget_s": args.budget,
        "python": sys.version.split()[0],
    }
    print("plan", json.dumps(plan), flush=True)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(ROOT)
    procs = {}
    t0 = time.perf_counter()
    for arm in arms:
        cmd = [
            sys.executable, "-m", "meshpose_mobile.train", "--config", plans[arm][0], "--out", str(args.out / arm),
            "--device", args.device, "--steps", str(steps), "--batch-size", str(args.batch_size),
            "--workers", str(workers), "--no-progress",
            "--set", f"eval_every={eval_every}", "--set", f"ckpt_every={eval_every}", *plans[arm][1],
            *(["--lr", str(args.lr)] if args.lr else []), *(a for kv in args.set for a in ("--set", kv)),
        ]  # fmt: skip
        log = open(args.out / f"{arm}.log", "w")
        procs[arm] = (subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log)
    # The hard stop: SIGTERM makes the trainer save its state (resumable). An arm that fails stops
    # the others at once: a device call is minutes of a short lease, not worth finishing half of.
    deadline = t0 + (args.hard_stop if args.hard_stop else 1.5 * args.budget + 60)
    while any(p.poll() is None for p, _ in procs.values()):
        failed = [arm for arm, (p, _) in procs.items() if p.poll() not in (None, 0)]
        if failed or time.perf_counter() > deadline:
            for p, _ in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p, _ in procs.values():
                p.wait()
            for arm in failed:
                print(f"arm {arm} failed:", (args.out / f"{arm}.log").read_text()[-3000:], flush=True)
            break
        time.sleep(2.0)
    for _, log in procs.values():
        log.close()
    plan["wall_s"] = round(time.perf_counter() - t0, 1)
    plan["exit"] = {arm: p.returncode for arm, (p, _) in procs.items()}
    print("done", json.dumps(plan), flush=True)

    if args.pack is not None:
        args.pack.mkdir(parents=True, exist_ok=True)
        for arm in arms:
            src = args.out / arm / "metrics.jsonl"
            if src.exists():
                (args.pack / f"{arm}.metrics.jsonl").write_bytes(src.read_bytes())
            logf = args.out / f"{arm}.log"
            (args.pack / f"{arm}.log").write_bytes(logf.read_bytes()[-200_000:])
        if args.arm:
            plan["parts"] = {
                arm: pack(args.out / arm, args.pack, f"{arm}_fp16")
                for arm in arms
                if (args.out / arm / "model.pt").exists()
            }
        elif (args.out / arms[0] / "model.pt").exists():
            plan["parts"] = pack(args.out / arms[0], args.pack, f"xs_{arms[0]}_fp16")
        (args.pack / "plan.json").write_text(json.dumps(plan, indent=1))
    return 0 if all(p.returncode == 0 for p, _ in procs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
