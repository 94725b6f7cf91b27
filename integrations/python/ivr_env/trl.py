"""TRL adapter: ``GRPOTrainer(reward_funcs=[ivr_verified_reward], ...)``.

TRL calls a reward function with ``prompts``, ``completions``, ``completion_ids``,
``trainer_state`` and every dataset column as keyword arguments, and takes a list of floats.
The task is read from the column ``ivr_task`` (an instance id or a record), else ``id``
(what ``ivr tasks export --format trl`` writes). Samples go to ``ivr serve-env``'s
/get_reward in one request (their responses are sent as-is, with empty prompts).
"""
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ivr_env.client import completion_text, default_client, task_from  # noqa: E402


def ivr_verified_reward(prompts=None, completions=None, completion_ids=None, trainer_state=None, **kwargs):
    """1.0 when the answer is right and every step holds against the prior, else 0.0."""
    completions = completions or []
    column = kwargs.get("ivr_task") or kwargs.get("id")
    if column is None:
        raise ValueError("ivr_verified_reward needs a dataset column 'ivr_task' (or 'id') naming each sample's task")
    labels = [task_from(t) for t in column]
    texts = [completion_text(c) for c in completions]
    out = default_client().get_reward(texts, [""] * len(texts), labels)
    return [float(r) for r in out["rewards"]]


ivr_verified_reward.__name__ = "ivr_verified_reward"  # TRL logs rewards/<name>
