"""OpenRLHF adapters.

Single turn, either of:
  --reward.remote_url http://HOST:8010/get_reward   (no Python needed: the service speaks the protocol)
  --reward.remote_url /path/to/integrations/python/ivr_env/openrlhf.py   (this file's ``reward_func``)

Multi-turn (the Re-Reasoning Loop as environment feedback):
  --train.agent_func_path /path/to/integrations/python/ivr_env/openrlhf.py
Each turn the service verifies the response so far; when a step is eroded the environment
answers with the verified prefix and "re-examine the image at step k", and the policy
continues from there (feedback tokens are masked out of the loss by OpenRLHF). The episode
ends when the response is verified or after IVR_MAX_TURNS turns (default 3).

Labels (``--label_key``) name the task: an instance id ("grid-7-4") or an external record
{"image", "question", "answer", "prior"?} (object or JSON string).
"""
import os
import sys

if __package__ in (None, ""):  # loaded by file path (OpenRLHF does): make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ivr_env.client import default_client, task_from  # noqa: E402

try:  # the engine's base classes where OpenRLHF is installed; stand-ins elsewhere
    from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor  # type: ignore
    OPENRLHF_AVAILABLE = True
except Exception:  # pragma: no cover - exercised where OpenRLHF is absent
    OPENRLHF_AVAILABLE = False

    class AgentInstanceBase(object):  # type: ignore[no-redef]
        def __init__(self, *args, **kwargs):
            pass

        async def reset(self, states, **kwargs):
            return states

    class MultiTurnAgentExecutor(object):  # type: ignore[no-redef]
        def __init__(self, agent_instance_cls):
            self.agent_instance_cls = agent_instance_cls


def _tensor(values):
    """torch tensors where torch exists (OpenRLHF expects them), plain lists otherwise."""
    try:
        import torch  # type: ignore
        return torch.tensor(values, dtype=torch.float32)
    except Exception:
        return values


def reward_func(queries, prompts, labels, **kwargs):
    """OpenRLHF's reward function: the verified reward per sample, computed by ``ivr serve-env``."""
    out = default_client().get_reward(queries, prompts, labels)
    rewards = _tensor(out["rewards"])
    return {
        "rewards": rewards,
        "scores": _tensor(out.get("scores", out["rewards"])),
        "extra_logs": {k: _tensor(v) for k, v in out.get("extra_logs", {}).items()},
    }


# The turn that carries the environment's feedback, in the policy's chat template
# (default ChatML, as Qwen2.5-VL uses). {feedback} is replaced by the service's text.
FEEDBACK_TEMPLATE = os.environ.get(
    "IVR_FEEDBACK_TEMPLATE", "\n<|im_start|>user\n{feedback}<|im_end|>\n<|im_start|>assistant\n")
END_OF_TURN = os.environ.get("IVR_END_OF_TURN", "<|im_end|>")


def _strip_end(text):
    text = text.rstrip()
    for end in (END_OF_TURN, "<|endoftext|>", "</s>", "<|eot_id|>"):
        if end and text.endswith(end):
            text = text[: -len(end)].rstrip()
    return text


class AgentInstance(AgentInstanceBase):
    """One episode: verify, feed back the verified prefix and the step to re-examine, repeat."""

    def __init__(self, *args, **kwargs):
        self.turn = 0
        self.prefix = []
        self.max_turns = int(os.environ.get("IVR_MAX_TURNS", "3"))

    async def reset(self, states, **kwargs):
        self.turn = 0
        self.prefix = []
        return {"observation": states["observation"]}

    def step_sync(self, states):
        """The step without asyncio (what ``step`` awaits; also handy in tests)."""
        self.turn += 1
        task = task_from(states["label"])
        action = _strip_end(states.get("action_text", ""))
        report = default_client().verify(task, action, prefix=self.prefix if self.turn > 1 else None)
        done = report["complete"] or self.turn >= self.max_turns
        feedback = "" if done else FEEDBACK_TEMPLATE.replace("{feedback}", report["feedback"] or "")
        if not done:
            self.prefix = report["verified_prefix"]
        first = report.get("first_error") or {}
        reward = float(report["reward"])
        return {
            "rewards": _tensor(reward),
            "scores": _tensor(reward),
            "environment_feedback": feedback,
            "done": done,
            "sampling_params": states.get("sampling_params", None),
            "extra_logs": {
                "first_error_step": _tensor(float(first.get("step", 0))),
                "error_visual": _tensor(1.0 if first.get("kind") == "visual" else 0.0),
                "turns": _tensor(float(self.turn)),
            },
        }

    async def step(self, states, **kwargs):
        import asyncio
        return await asyncio.get_running_loop().run_in_executor(None, self.step_sync, states)


class AgentExecutor(MultiTurnAgentExecutor):
    """What ``--train.agent_func_path`` loads."""

    def __init__(self):
        super().__init__(AgentInstance)
