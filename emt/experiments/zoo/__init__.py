"""The calibration zoo: nets whose answer is known by construction (or by their own measured
task accuracy), built by code the verifier does not share, and the harness that measures each
verifier bar's false-positive rate on nulls and false-negative rate on positives
(docs/zoo.md).

The constructors and trainers here (`taskdata`, `construct`, `members`, `build`,
`torch_train`) never import `emt.verify`; only the harness (`calibrate`) does.
"""
