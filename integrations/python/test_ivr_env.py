"""Tests of the adapters: imports and engine-facing signatures everywhere; the HTTP paths
against a real ``ivr serve-env`` when IVR_ENV_URL and IVR_TEST_CASES are set (the npm test
test/serve-env/python-adapters.test.ts starts one on loopback and sets both).

    python3 -m unittest discover integrations/python
"""
import asyncio
import inspect
import json
import os
import unittest

import ivr_env
from ivr_env import client as client_mod
from ivr_env import openrlhf, trl, verl

LIVE = bool(os.environ.get("IVR_ENV_URL") and os.environ.get("IVR_TEST_CASES"))


def cases():
    with open(os.environ["IVR_TEST_CASES"]) as f:
        return json.load(f)


def params(fn):
    return list(inspect.signature(fn).parameters.values())


class Signatures(unittest.TestCase):
    """The shapes the engines call (docs: ANCHORS §7 / docs/integrations.md)."""

    def test_import_without_engines(self):
        self.assertTrue(hasattr(ivr_env, "EnvClient"))
        for mod in (openrlhf, verl, trl):
            self.assertIsNotNone(mod)

    def test_openrlhf_reward_func(self):
        # OpenRLHF: reward_func(queries, prompts, labels, **kw) -> {"rewards", "scores", "extra_logs"}
        p = params(openrlhf.reward_func)
        self.assertEqual([x.name for x in p[:3]], ["queries", "prompts", "labels"])
        self.assertEqual(p[3].kind, inspect.Parameter.VAR_KEYWORD)

    def test_openrlhf_agent(self):
        # --train.agent_func_path loads AgentExecutor (a MultiTurnAgentExecutor built with an instance class)
        ex = openrlhf.AgentExecutor()
        cls = getattr(ex, "agent_instance_cls", None) or getattr(ex, "agent_cls", None)
        self.assertIs(cls, openrlhf.AgentInstance)
        inst = openrlhf.AgentInstance()
        self.assertTrue(inspect.iscoroutinefunction(inst.step))
        self.assertTrue(inspect.iscoroutinefunction(inst.reset))
        self.assertEqual([x.name for x in params(inst.step)][:1], ["states"])

    def test_verl_compute_score(self):
        # verl: compute_score(data_source, solution_str, ground_truth, extra_info=None, **kw); async under the reward loop
        for fn in (verl.compute_score, verl.compute_score_sync):
            p = params(fn)
            self.assertEqual([x.name for x in p[:4]], ["data_source", "solution_str", "ground_truth", "extra_info"])
            self.assertIsNone(p[3].default)
            self.assertEqual(p[4].kind, inspect.Parameter.VAR_KEYWORD)
        self.assertTrue(inspect.iscoroutinefunction(verl.compute_score))

    def test_verl_interaction(self):
        # BaseInteraction.generate_response(instance_id, messages) -> (terminate, text, score, metadata)
        it = verl.IvrInteraction({"name": "ivr", "max_turns": 2})
        self.assertEqual(it.name, "ivr")
        for name in ("start_interaction", "generate_response", "calculate_score", "finalize_interaction"):
            self.assertTrue(inspect.iscoroutinefunction(getattr(it, name)), name)
        self.assertEqual([x.name for x in params(it.generate_response)][:2], ["instance_id", "messages"])

    def test_trl_reward(self):
        # TRL: reward_funcs get prompts, completions, completion_ids, trainer_state and the columns as keywords
        names = [x.name for x in params(trl.ivr_verified_reward)]
        for k in ("prompts", "completions", "completion_ids", "trainer_state"):
            self.assertIn(k, names)
        self.assertEqual(params(trl.ivr_verified_reward)[-1].kind, inspect.Parameter.VAR_KEYWORD)

    def test_task_from(self):
        self.assertEqual(client_mod.task_from("grid-7-4"), "grid-7-4")
        self.assertEqual(client_mod.task_from('{"id": "grid-7-4"}'), {"id": "grid-7-4"})
        self.assertEqual(client_mod.task_from({"ivr_task": "grid-1-2"}), "grid-1-2")
        self.assertEqual(client_mod.completion_text([{"role": "assistant", "content": "x"}]), "x")


@unittest.skipUnless(LIVE, "set IVR_ENV_URL and IVR_TEST_CASES (the npm test does)")
class Live(unittest.TestCase):
    def setUp(self):
        self.c = cases()

    def test_openrlhf_reward_func(self):
        c = self.c
        prompt = "<|im_start|>user\n" + c["question"] + "<|im_end|>\n<|im_start|>assistant\n"
        out = openrlhf.reward_func([prompt + c["gold"] + "<|im_end|>", prompt + c["wrong"] + "<|im_end|>"], [prompt, prompt], [c["task"], c["task"]])
        self.assertEqual([float(x) for x in out["rewards"]], [1.0, 0.0])
        self.assertEqual([float(x) for x in out["extra_logs"]["first_error_step"]], [0.0, float(c["wrong_step"])])

    def test_openrlhf_agent_turns(self):
        c = self.c
        agent = openrlhf.AgentInstance()
        asyncio.run(agent.reset({"observation": "prompt", "label": c["task"]}))
        first = asyncio.run(agent.step({"observation_text": "prompt", "action_text": c["wrong"] + "<|im_end|>", "label": c["task"]}))
        self.assertFalse(first["done"])
        self.assertIn("Re-examine the image at step %d" % c["wrong_step"], first["environment_feedback"])
        self.assertTrue(first["environment_feedback"].startswith("\n<|im_start|>user\n"))
        second = asyncio.run(agent.step({"observation_text": "prompt", "action_text": c["rest"], "label": c["task"]}))
        self.assertTrue(second["done"])
        self.assertEqual(float(second["rewards"]), 1.0)

    def test_verl_compute_score(self):
        c = self.c
        good = asyncio.run(verl.compute_score("ivr-r1/grid", c["gold"], c["answer"], {"id": c["task"]}))
        bad = verl.compute_score_sync("ivr-r1/grid", c["wrong"], c["answer"], {"id": c["task"]})
        self.assertEqual(good["score"], 1.0)
        self.assertEqual(bad["score"], 0.0)
        self.assertEqual(bad["first_error_step"], float(c["wrong_step"]))
        self.assertEqual(bad["error_visual"], 1.0)

    def test_verl_interaction(self):
        c = self.c
        it = verl.IvrInteraction({"name": "ivr", "max_turns": 3})
        iid = asyncio.run(it.start_interaction(None, task=c["task"]))
        done, text, score, meta = asyncio.run(it.generate_response(iid, [{"role": "user", "content": "q"}, {"role": "assistant", "content": c["wrong"]}]))
        self.assertFalse(done)
        self.assertEqual(score, 0.0)
        self.assertIn("Re-examine the image", text)
        done, text, score, meta = asyncio.run(it.generate_response(iid, [{"role": "assistant", "content": c["rest"]}]))
        self.assertTrue(done)
        self.assertEqual(score, 1.0)
        self.assertEqual(asyncio.run(it.calculate_score(iid)), 1.0)
        asyncio.run(it.finalize_interaction(iid))

    def test_trl_reward(self):
        c = self.c
        completions = [[{"role": "assistant", "content": c["gold"]}], [{"role": "assistant", "content": c["wrong"]}]]
        self.assertEqual(trl.ivr_verified_reward(prompts=["p", "p"], completions=completions, completion_ids=None, trainer_state=None, ivr_task=[c["task"], c["task"]]), [1.0, 0.0])

    def test_rectify_through_the_policy(self):
        c = self.c
        r = ivr_env.default_client().rectify(c["rectify_task"], c["rectify_wrong"], rounds=3, seed=1)
        self.assertEqual(r["status"], "rectified", r)
        self.assertEqual("".join(p["text"] for p in r["pieces"]), r["text"])
        self.assertEqual(ivr_env.default_client().verify(c["rectify_task"], r["text"])["reward"], 1)

    def test_refusal_names_the_field(self):
        with self.assertRaises(ivr_env.EnvError) as e:
            ivr_env.default_client().verify("grid-7", "x")
        self.assertEqual(e.exception.status, 400)
        self.assertEqual(e.exception.param, "task")


if __name__ == "__main__":
    unittest.main()
