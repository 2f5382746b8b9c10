"""An example submission package: a predictor implementing asabench's Predictor protocols.

Entry points (``package.module:factory``) for ``asabench validate-model`` and
``asabench evaluate --predictor`` (run from the checkout with ``PYTHONPATH=examples``)::

    my_predictor.predictor:demo_predictor   the demo suites (8 kHz, 4 channels, 3 object slots)
    my_predictor.predictor:asa2_predictor   the asa2 suites (16 kHz, 4 channels, 5 object slots)
"""
