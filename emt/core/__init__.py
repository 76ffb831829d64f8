"""The base every layer stands on, standard library only: resource limits, safe reading and
atomic writing, typed JSON records, provenance, progress display and thread limits."""
