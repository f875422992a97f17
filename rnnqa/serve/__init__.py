"""``qa-serve``: a bundle as an HTTP service (Starlette on uvicorn), with dynamic batching, health, metrics
and hot reload. Needs the ``serve`` extra; imports only :mod:`rnnqa.runtime` from rnnqa."""
