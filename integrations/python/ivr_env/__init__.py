"""Adapters that plug IVR-R1 (``ivr serve-env``) into OpenRLHF, verl and TRL.

Standard library only (Python >= 3.9); the engines themselves are imported lazily and only
where they exist, so every module imports on a machine without them.

- ``ivr_env.client``    the HTTP client (retries on 429/5xx/connection errors)
- ``ivr_env.openrlhf``  ``reward_func`` (``--reward.remote_url this_file.py``) and a multi-turn
                        ``AgentExecutor`` (``--train.agent_func_path this_file.py``)
- ``ivr_env.verl``      async ``compute_score`` (custom_reward_function) and ``IvrInteraction``
                        (a ``BaseInteraction`` for multi-turn rollouts)
- ``ivr_env.trl``       ``ivr_verified_reward`` for ``GRPOTrainer(reward_funcs=...)``

The service URL comes from ``IVR_ENV_URL`` (default ``http://127.0.0.1:8010``) and the key
from ``IVR_ENV_API_KEY``. See docs/integrations.md.
"""
from .client import EnvClient, EnvError, default_client, task_from  # noqa: F401

__all__ = ["EnvClient", "EnvError", "default_client", "task_from"]
