"""HTTP client for ``ivr serve-env`` (standard library only)."""
import json
import os
import random
import time
import urllib.error
import urllib.request

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EnvError(RuntimeError):
    """A refused request (4xx other than 429): ``status``, ``param`` (the field), ``code``."""

    def __init__(self, status, message, param=None, code=None):
        super().__init__("HTTP %s: %s" % (status, message))
        self.status = status
        self.param = param
        self.code = code


class EnvClient:
    """``EnvClient(url, api_key=None, timeout=180.0, retries=5)``; ``url`` is the service's base URL."""

    def __init__(self, url=None, api_key=None, timeout=180.0, retries=5, backoff=0.5):
        self.url = (url or os.environ.get("IVR_ENV_URL") or "http://127.0.0.1:8010").rstrip("/")
        if self.url.endswith("/v1"):
            self.url = self.url[: -len("/v1")]
        self.api_key = api_key if api_key is not None else os.environ.get("IVR_ENV_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def _post(self, path, body):
        data = json.dumps(body).encode("utf-8")
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = "Bearer " + self.api_key
        last = None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST")
            delay = min(20.0, self.backoff * (2 ** attempt)) * (0.5 + random.random() / 2)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as res:
                    return json.loads(res.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                text = e.read().decode("utf-8", "replace")
                try:
                    err = json.loads(text).get("error") or {}
                except ValueError:
                    err = {"message": text[:300]}
                if e.code not in RETRY_STATUS:
                    raise EnvError(e.code, err.get("message", ""), err.get("param"), err.get("code"))
                last = EnvError(e.code, err.get("message", ""), err.get("param"), err.get("code"))
                retry_after = e.headers.get("retry-after") if e.headers else None
                if retry_after and retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
            if attempt < self.retries:
                time.sleep(delay)
        raise EnvError(0, "%s %s failed after %d attempts: %s" % ("POST", path, self.retries + 1, last))

    def get_reward(self, queries, prompts, labels):
        """OpenRLHF's remote-reward call: ``{"rewards", "scores", "extra_logs"}``."""
        return self._post("/get_reward", {"query": list(queries), "prompts": list(prompts), "labels": list(labels)})

    def verify(self, task, response, prefix=None):
        """Per-step verdicts, ``first_error`` (1-based step, kind), ``verified_prefix``, ``feedback``, ``reward``."""
        body = {"task": task, "response": response}
        if prefix:
            body["prefix"] = list(prefix)
        return self._post("/v1/verify", body)

    def rectify(self, task, response, rounds=None, rectifier=None, oracle_fallback=None, seed=None):
        """The Re-Reasoning Loop: ``status``, ``text``, ``pieces`` (rewritten spans marked), ``rounds``."""
        body = {"task": task, "response": response}
        for k, v in (("rounds", rounds), ("rectifier", rectifier), ("oracle_fallback", oracle_fallback), ("seed", seed)):
            if v is not None:
                body[k] = v
        return self._post("/v1/rectify", body)


_default = None


def default_client():
    """One client per process, configured from IVR_ENV_URL / IVR_ENV_API_KEY."""
    global _default
    if _default is None:
        _default = EnvClient()
    return _default


def task_from(value):
    """A task field from a dataset value: an instance id, a record, or a JSON string of a record."""
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("{"):
            try:
                return json.loads(s)
            except ValueError:
                return value
        return s
    if isinstance(value, dict):
        if "ivr_task" in value:
            return task_from(value["ivr_task"])
        if set(value) >= {"image", "question", "answer"} or set(value) == {"id"}:
            return value
        if isinstance(value.get("id"), str):
            return value["id"]
    return value


def completion_text(completion):
    """The text of a completion: a string, or a conversational list of messages (TRL)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        parts = []
        for m in completion:
            c = m.get("content") if isinstance(m, dict) else m
            if isinstance(c, list):
                parts.extend(p.get("text", "") for p in c if isinstance(p, dict))
            elif isinstance(c, str):
                parts.append(c)
        return "".join(parts)
    if isinstance(completion, dict):
        return completion_text([completion])
    return str(completion)
