"""verl adapters.

Reward (verl's reward loop, ``reward_model.use_reward_loop=True`` for the async form):
  custom_reward_function.path=/path/to/integrations/python/ivr_env/verl.py
  custom_reward_function.name=compute_score          # async; compute_score_sync for the legacy manager

Multi-turn (``actor_rollout_ref.rollout.multi_turn.interaction_config_path=ivr_interaction.yaml``):
  interaction:
    - name: ivr
      class_name: ivr_env.verl.IvrInteraction
      config: {max_turns: 3}
and ``extra_info.interaction_kwargs = {"name": "ivr", "task": "grid-7-4"}`` per row.

The task is read from extra_info["ivr_task"], else extra_info["id"] (what
``ivr tasks export --format verl`` writes), else ground_truth when it is an instance id.
"""
import asyncio
import os
import sys
import uuid

if __package__ in (None, ""):  # loaded by file path (verl does): make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ivr_env.client import default_client, task_from  # noqa: E402

try:
    from verl.interactions.base import BaseInteraction  # type: ignore
    VERL_AVAILABLE = True
except Exception:  # pragma: no cover - exercised where verl is absent
    VERL_AVAILABLE = False

    class BaseInteraction(object):  # type: ignore[no-redef]
        def __init__(self, config):
            self.config = config
            self.name = config.get("name", "interaction_agent")


def _task(ground_truth, extra_info):
    info = extra_info or {}
    if info.get("ivr_task") is not None:
        return task_from(info["ivr_task"])
    if isinstance(info.get("id"), str):
        return info["id"]
    return task_from(ground_truth)


def _score(report):
    first = report.get("first_error") or {}
    return {
        "score": float(report["reward"]),
        "acc": 1.0 if report["answer_correct"] else 0.0,
        "first_error_step": float(first.get("step", 0)),
        "error_visual": 1.0 if first.get("kind") == "visual" else 0.0,
        "error_logical": 1.0 if first.get("kind") == "logical" else 0.0,
        "error_format": 1.0 if first.get("kind") == "format" else 0.0,
    }


def compute_score_sync(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl's compute_score, blocking."""
    return _score(default_client().verify(_task(ground_truth, extra_info), solution_str))


async def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl's compute_score for the reward loop: the HTTP call runs off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        None, compute_score_sync, data_source, solution_str, ground_truth, extra_info)


class IvrInteraction(BaseInteraction):
    """verl multi-turn interaction: the Re-Reasoning Loop as the environment's turns."""

    def __init__(self, config):
        super().__init__(config)
        self.max_turns = int(config.get("max_turns", 3))
        self._episodes = {}

    async def start_interaction(self, instance_id=None, task=None, ground_truth=None, **kwargs):
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        self._episodes[instance_id] = {"task": task_from(task if task is not None else ground_truth), "prefix": [], "turns": 0, "reward": 0.0}
        return instance_id

    def generate_response_sync(self, instance_id, messages, **kwargs):
        ep = self._episodes[instance_id]
        reply = ""
        for m in reversed(messages):
            if m.get("role") == "assistant":
                c = m.get("content")
                reply = c if isinstance(c, str) else "".join(p.get("text", "") for p in (c or []) if isinstance(p, dict))
                break
        ep["turns"] += 1
        report = default_client().verify(ep["task"], reply, prefix=ep["prefix"] if ep["turns"] > 1 else None)
        ep["reward"] = float(report["reward"])
        done = report["complete"] or ep["turns"] >= self.max_turns
        if not done:
            ep["prefix"] = report["verified_prefix"]
        text = "" if done else (report["feedback"] or "")
        return done, text, ep["reward"], {"first_error": report.get("first_error"), "turns": ep["turns"]}

    async def generate_response(self, instance_id, messages, **kwargs):
        """(should_terminate, response_text, turn_score, metadata)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.generate_response_sync, instance_id, messages)

    async def calculate_score(self, instance_id=None, **kwargs):
        return self._episodes.get(instance_id, {}).get("reward", 0.0)

    async def finalize_interaction(self, instance_id=None, **kwargs):
        self._episodes.pop(instance_id, None)
