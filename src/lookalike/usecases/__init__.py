"""What a user does with lookalike, one module each, as plain functions over a gallery and a pipeline.

The CLI (:mod:`lookalike.cli`), the Python API (:mod:`lookalike.api`) and the REST routers
(:mod:`lookalike.service.routers`) are thin adapters: they parse, call one use case and render.
"""
