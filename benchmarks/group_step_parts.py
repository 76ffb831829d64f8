"""Where a group step's time goes: the loops of `numerics.group_step_rnn` taken apart.

    .venv/bin/python benchmarks/group_step_parts.py [--members 4] [--steps 100] [--repeat 20]

One thread, the paper's model (N_h 128, s = d = 8, batch 64), ``--members`` networks, over
``--steps`` output-phase time steps; each variant is timed on fixed random tensors (best of
two passes of ``--repeat`` calls after a warm-up), with and without XLA (``jit_compile``):

  bare products     the output phase's three products alone in a ``while_loop``: the forward
                    ``h [W_hh; W_hy]^T``, the back-projection ``[e, delta] [W_hy; W_hh]`` and the
                    gradient ``[delta, e]^T h`` (accumulated): what the step's arithmetic costs
                    at this shape with no other work
  forward           as the step runs it (``tf.scan`` over ``[z, y]``, ``transpose_b``), with
                    ``W`` transposed once, and as a ``while_loop`` writing a ``TensorArray``
  backward          as the step runs it (``tf.foldr``), as a ``while_loop`` indexing the stacked
                    states, and with the thin readout products split from the big ones

and the 1024^3 single-thread matmul rate, the ceiling the throughput benchmark divides by.
The numbers say how far the step's loop structure (slices, concatenations, the tanh
derivative, the TensorArray traffic) sits from its bare products, i.e. how much any rewrite of
the step could gain on this CPU.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=4, help="networks in the group (K)")
    ap.add_argument("--steps", type=int, default=100, help="output-phase time steps")
    ap.add_argument("--repeat", type=int, default=20, help="calls per timing pass")
    args = ap.parse_args(argv)
    import numpy as np  # deferred with TensorFlow: --help stays instant
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    K, B, N, d, T = args.members, 64, 128, 8, args.steps
    rng = np.random.default_rng(0)

    def rand(*shape: int) -> tf.Tensor:
        return tf.constant(rng.standard_normal(shape).astype(np.float32) * 0.05)

    h0, W_out, W_back = rand(K, B, N), rand(K, N + d, N), rand(K, d + N, N)
    hs, es, ed = rand(T, K, B, N), rand(T, K, B, d), rand(K, B, N + d)
    product = 2 * K * B * N * (N + d) * T  # flops of one of the three products over T steps

    def bare(x: tf.Tensor, W: tf.Tensor, Wb: tf.Tensor) -> tf.Tensor:
        WT = tf.transpose(W, [0, 2, 1])

        def body(i, h, dn, g):
            z = tf.matmul(h, WT)[..., :N]
            back = tf.matmul(dn, Wb)
            g = g + tf.matmul(dn, h, transpose_a=True)
            return i + 1, z * 0.5, tf.concat([dn[..., :d], back], -1), g
        return tf.while_loop(lambda i, *_: i < T, body, (0, x, ed, tf.zeros([K, N + d, N])))[3]

    def fwd_scan(x: tf.Tensor, W: tf.Tensor) -> tf.Tensor:
        def body(c, _):
            zy = tf.matmul(c[0], W, transpose_b=True)
            return tf.tanh(zy[..., :N]), zy[..., N:]
        return tf.scan(body, es, initializer=(x, tf.zeros([K, B, d])))

    def fwd_scan_transposed(x: tf.Tensor, W: tf.Tensor) -> tf.Tensor:
        WT = tf.transpose(W, [0, 2, 1])

        def body(c, _):
            zy = tf.matmul(c[0], WT)
            return tf.tanh(zy[..., :N]), zy[..., N:]
        return tf.scan(body, es, initializer=(x, tf.zeros([K, B, d])))

    def fwd_while(x: tf.Tensor, W: tf.Tensor) -> tf.Tensor:
        WT = tf.transpose(W, [0, 2, 1])

        def body(i, h, ta):
            zy = tf.matmul(h, WT)
            return i + 1, tf.tanh(zy[..., :N]), ta.write(i, zy)
        return tf.while_loop(lambda i, *_: i < T, body,
                             (0, x, tf.TensorArray(tf.float32, size=T)))[2].stack()

    def bwd_foldr(e: tf.Tensor, h: tf.Tensor, Wb: tf.Tensor) -> tf.Tensor:
        def body(carry, elem):
            dn, g = carry
            e_now, h_now = elem
            back = tf.matmul(tf.concat([e_now, dn], -1), Wb)
            return back * (1.0 - tf.square(h_now)), g + tf.matmul(tf.concat([dn, e_now], -1),
                                                                 h_now, transpose_a=True)
        return tf.foldr(body, (e, h), initializer=(tf.zeros([K, B, N]), tf.zeros([K, N + d, N])))

    def bwd_while(e: tf.Tensor, h: tf.Tensor, Wb: tf.Tensor) -> tf.Tensor:
        def body(t, dn, g):
            back = tf.matmul(tf.concat([e[t], dn], -1), Wb)
            return t - 1, back * (1.0 - tf.square(h[t])), g + tf.matmul(
                tf.concat([dn, e[t]], -1), h[t], transpose_a=True)
        return tf.while_loop(lambda t, *_: t >= 0, body,
                             (T - 1, tf.zeros([K, B, N]), tf.zeros([K, N + d, N])))[1:]

    def bwd_split(e: tf.Tensor, h: tf.Tensor, Wb: tf.Tensor) -> tf.Tensor:
        W_hy, W_hh = Wb[:, :d], Wb[:, d:]

        def body(t, dn, g_hh, g_hy):
            back = tf.matmul(dn, W_hh) + tf.matmul(e[t], W_hy)
            return (t - 1, back * (1.0 - tf.square(h[t])),
                    g_hh + tf.matmul(dn, h[t], transpose_a=True),
                    g_hy + tf.matmul(e[t], h[t], transpose_a=True))
        return tf.while_loop(lambda t, *_: t >= 0, body,
                             (T - 1, tf.zeros([K, B, N]), tf.zeros([K, N, N]),
                              tf.zeros([K, d, N])))[1:]

    def seconds(fn: Callable, *fargs) -> float:
        fn(*fargs)
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            for _ in range(args.repeat):
                out = fn(*fargs)
            _ = [v.numpy() for v in tf.nest.flatten(out)]
            best = min(best, (time.perf_counter() - t) / args.repeat)
        return best

    big = tf.constant(rng.standard_normal((1024, 1024)).astype(np.float32))
    ceiling = 2 * 1024**3 / seconds(tf.function(lambda a: tf.matmul(a, a)), big) / 1e9
    print(f"K = {K}, N_h = {N}, batch {B}, {T} steps, 1 thread; 1024^3 matmul {ceiling:.1f} "
          f"GFLOP/s")
    print("| variant | products | XLA | ms | GFLOP/s | % of 1024^3 rate |")
    print("|---|---|---|---|---|---|")
    for name, fn, fargs, n in (("bare products", bare, (h0, W_out, W_back), 3),
                               ("forward, tf.scan (the step's)", fwd_scan, (h0, W_out), 1),
                               ("forward, scan, W transposed once", fwd_scan_transposed,
                                (h0, W_out), 1),
                               ("forward, while_loop + TensorArray", fwd_while, (h0, W_out), 1),
                               ("backward, tf.foldr (the step's)", bwd_foldr, (es, hs, W_back), 2),
                               ("backward, while_loop indexing", bwd_while, (es, hs, W_back), 2),
                               ("backward, readout products split", bwd_split,
                                (es, hs, W_back), 2)):
        for jit in (False, True):
            s = seconds(tf.function(fn, jit_compile=jit, autograph=False), *fargs)
            rate = n * product / s / 1e9
            print(f"| {name} | {n} | {'yes' if jit else 'no'} | {1e3 * s:.2f} | {rate:.1f} | "
                  f"{100 * rate / ceiling:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
