"""The paper's model as a Keras 3 model, and its conversion to and from `RNNWeights`.

The network (column vectors, Keras time indexing):

    h(t) = act(W_hh h(t-1) + W_uh u(t)),   h(-1) = 0,   y(t) = W_hy h(t)

is a ``SimpleRNN(N_h, activation, use_bias=False, return_sequences=True)`` followed by a
bias-free ``Dense(d)``.  Keras multiplies row vectors from the right, so it stores transposes:

    SimpleRNN kernel = W_uh^T  (d_in x N_h),  recurrent_kernel = W_hh^T  (N_h x N_h),
    Dense kernel     = W_hy^T  (N_h x d_out).

The Keras model is the import/export format only (training uses the faster raw recurrence in
`numerics.train`).  TensorFlow/Keras are imported inside the functions that need them, so
importing this module is cheap and `verify` can import `load_keras_file` lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from emt.numerics.tf_quiet import load_tensorflow
from emt.numerics.weights import ACTIVATIONS, RNNWeights

__all__ = ["init_weights", "build_keras_model", "weights_from_keras_model", "load_keras_model",
           "load_keras_file"]


def init_weights(n_hidden: int, d: int, activation: str = "tanh", seed: int = 1) -> RNNWeights:
    """PyTorch's default initialisation for every matrix: entries i.i.d. U(-k, k), k = 1/sqrt(N_h).

    (``torch.nn.RNN`` draws W_ih and W_hh from U(-1/sqrt(N_h), 1/sqrt(N_h)); the paper's readout
    is initialised the same way.)  Drawn from a seeded numpy Generator, in the order W_uh, W_hh,
    W_hy, so the initial weights do not depend on TensorFlow's RNG.
    """
    for name, value in (("n_hidden", n_hidden), ("d", d)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng(int(seed))
    k = 1.0 / np.sqrt(n_hidden)
    W_uh = rng.uniform(-k, k, size=(n_hidden, d))
    W_hh = rng.uniform(-k, k, size=(n_hidden, n_hidden))
    W_hy = rng.uniform(-k, k, size=(d, n_hidden))
    return RNNWeights(W_uh, W_hh, W_hy, activation=activation,
                      provenance={"source": "init", "init": "U(-1/sqrt(N_h), 1/sqrt(N_h))",
                                  "seed": int(seed)})


def build_keras_model(weights: RNNWeights) -> Any:
    """A Keras model ``Input(None, d_in) -> SimpleRNN -> Dense`` holding ``weights``.

    Biases are used only when ``weights`` carries them (``b_h`` -> SimpleRNN bias, ``b_y`` ->
    Dense bias); the paper's model has none.
    """
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    import keras  # imports TensorFlow (seconds): only when a Keras model is wanted

    inputs = keras.Input(shape=(None, weights.d_in), name="u")
    rnn = keras.layers.SimpleRNN(
        weights.n_hidden, activation=weights.activation, use_bias=weights.b_h is not None,
        return_sequences=True, name="rnn")
    readout = keras.layers.Dense(weights.d_out, use_bias=weights.b_y is not None, name="readout")
    model = keras.Model(inputs, readout(rnn(inputs)), name="emt_rnn")
    rnn_w = [weights.W_uh.T, weights.W_hh.T] + ([weights.b_h] if weights.b_h is not None else [])
    out_w = [weights.W_hy.T] + ([weights.b_y] if weights.b_y is not None else [])
    rnn.set_weights([np.asarray(w, dtype=np.float32) for w in rnn_w])
    readout.set_weights([np.asarray(w, dtype=np.float32) for w in out_w])
    return model


def _activation_name(layer: Any) -> str:
    import keras  # imports TensorFlow (seconds): only when a Keras model is wanted

    act = layer.activation
    name = keras.activations.serialize(act) if callable(act) else act
    if isinstance(name, dict):  # Keras 3 may serialise to a config dict
        name = name.get("config", name.get("class_name", ""))
    return str(getattr(act, "__name__", name))


def weights_from_keras_model(model: Any) -> RNNWeights:
    """`RNNWeights` (column-vector convention) from a Keras ``[Input,] SimpleRNN, Dense`` model.

    ``W_uh = kernel^T``, ``W_hh = recurrent_kernel^T``, ``W_hy = Dense kernel^T``; biases, if the
    layers have them, are carried as ``b_h``/``b_y``.  Any other architecture is a ValueError
    naming the layers found.
    """
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    import keras  # imports TensorFlow (seconds): only when a Keras model is wanted

    layers = [layer for layer in getattr(model, "layers", [])
              if not isinstance(layer, keras.layers.InputLayer)]
    kinds = [type(layer).__name__ for layer in layers]
    if (len(layers) != 2 or not isinstance(layers[0], keras.layers.SimpleRNN)
            or not isinstance(layers[1], keras.layers.Dense)):
        raise ValueError("expected a model of exactly [Input,] SimpleRNN + Dense; found "
                         f"[{', '.join(kinds) or 'no layers'}]")
    rnn, dense = layers
    activation = _activation_name(rnn)
    if activation not in ACTIVATIONS:
        raise ValueError(f"SimpleRNN activation must be one of {', '.join(ACTIVATIONS)}; "
                         f"found {activation!r}")
    dense_act = _activation_name(dense)
    if dense_act != "linear":
        raise ValueError(f"Dense readout must be linear; found activation {dense_act!r}")
    if not rnn.return_sequences:
        raise ValueError("SimpleRNN must return sequences (return_sequences=True)")
    rnn_w = [np.asarray(w, dtype=np.float64) for w in rnn.get_weights()]
    out_w = [np.asarray(w, dtype=np.float64) for w in dense.get_weights()]
    b_h = rnn_w[2] if len(rnn_w) > 2 else None
    b_y = out_w[1] if len(out_w) > 1 else None
    return RNNWeights(rnn_w[0].T, rnn_w[1].T, out_w[0].T, activation=activation, b_h=b_h,
                      b_y=b_y, provenance={"source": "keras", "model": str(model.name)})


def load_keras_model(path: Path) -> Any:
    """The Keras model in the ``.keras`` file ``path``, loaded in safe mode (no arbitrary code,
    not compiled); a ValueError naming the file when Keras cannot load it."""
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    import keras  # imports TensorFlow (seconds): only when a Keras model is wanted

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many kinds for a bad archive
        raise ValueError(f"{path}: not a loadable .keras file in safe mode "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None


def load_keras_file(path: str | os.PathLike) -> RNNWeights:
    """Read a ``.keras`` file (``safe_mode=True``: no arbitrary code) into `RNNWeights`.

    A missing file is FileNotFoundError; an unreadable, corrupt or other-architecture file is a
    ValueError naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a .keras file")
    model = load_keras_model(path)
    try:
        weights = weights_from_keras_model(model)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return RNNWeights(weights.W_uh, weights.W_hh, weights.W_hy, activation=weights.activation,
                      b_h=weights.b_h, b_y=weights.b_y,
                      provenance={"source": "keras", "file": str(path)})
