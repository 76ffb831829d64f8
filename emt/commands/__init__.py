"""The `emt` verbs, one module per verb group; each registers its parsers with ``register``."""

# Each verb imports the layers it uses inside its own function: `emt --help`, `emt tasks` or one
# verb then loads only what it needs (the verify and experiment layers pull in numpy, scipy,
# pandas and, for training, TensorFlow: seconds of start-up for a command that never uses them).
