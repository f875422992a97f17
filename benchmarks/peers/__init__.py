"""The servers qa-serve is measured against in `benchmarks/serve_peers.py`, each an importable app."""
