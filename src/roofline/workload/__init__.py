"""The LLM serving workload: model architectures, serving configs, per-phase op models, memory and
time predictions. Pure functions of typed inputs; loading lives in ``model.load_model`` and
``serving.load_serving_config``.
"""
