#!/usr/bin/env python3
"""Writes the hand-authored transcript fixtures under tests/fixtures/projects/.

Every line below was written by hand to look like real Claude Code output
(versions 1.0.89, 2.0.46 and 2.1.39); this script only keeps the ids
consistent (uuids, parentUuid chains, msg_/req_/toolu_ ids) and serialises
the lines exactly like Claude Code does (compact JSON, raw UTF-8, control
characters escaped as \\u001b, one object per line, '\\n' after each).

The output is committed; run this only when you mean to change the fixtures,
then re-run tests/ccusage/run.sh --update and tests/ccusage/ground_truth.py.
Deterministic: the same script always writes the same bytes.

    python3 tests/ccusage/build_fixtures.py
"""
import base64
import copy
import json
import random
import shutil
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "projects"

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class Ids:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def uuid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def _b58(self, n):
        return "".join(self.r.choice(B58) for _ in range(n))

    def msg(self):
        return "msg_01" + self._b58(22)

    def req(self):
        return "req_011C" + self._b58(20)

    def toolu(self):
        return "toolu_01" + self._b58(22)

    def sig(self):
        return base64.b64encode(bytes(self.r.getrandbits(8) for _ in range(120))).decode()

    def hex(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))


def usage(inp, cc5, cr, out, cc1=0, style="1.0"):
    """usage object as written by the given Claude Code generation.

    style "1.0": no cache_creation breakdown (all cache writes priced at 5m).
    style "2.0": 5m/1h breakdown.  style "2.1": breakdown + newer keys.
    """
    u = {"input_tokens": inp, "cache_creation_input_tokens": cc5 + cc1,
         "cache_read_input_tokens": cr}
    if style != "1.0":
        u["cache_creation"] = {"ephemeral_5m_input_tokens": cc5, "ephemeral_1h_input_tokens": cc1}
    elif cc1:
        raise ValueError("1.0 style has no 1h breakdown")
    u["output_tokens"] = out
    u["service_tier"] = "standard"
    if style == "2.1":
        u["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": 0}
        u["inference_geo"] = "not_available"
        u["speed"] = "standard"
    return u


class Transcript:
    def __init__(self, rel, session_id, version, cwd, branch, seed, *, sidechain=False,
                 agent_id=None, slug=None):
        self.rel = rel
        self.sid = session_id
        self.version = version
        self.cwd = cwd
        self.branch = branch
        self.ids = Ids(seed)
        self.sidechain = sidechain
        self.agent_id = agent_id
        self.slug = slug
        self.lines = []
        self.last = None  # uuid of the last conversational line

    # -- pieces -----------------------------------------------------------
    def _common(self, parent, sidechain):
        d = {"parentUuid": parent,
             "isSidechain": self.sidechain if sidechain is None else sidechain,
             "userType": "external", "cwd": self.cwd, "sessionId": self.sid,
             "version": self.version, "gitBranch": self.branch}
        if self.agent_id:
            d["agentId"] = self.agent_id
        if self.slug:
            d["slug"] = self.slug
        return d

    def _parent(self, parent):
        return self.last if parent == "last" else parent

    def add(self, obj, *, chain=True):
        self.lines.append(obj)
        if chain and "uuid" in obj:
            self.last = obj["uuid"]
        return obj

    # -- line kinds -------------------------------------------------------
    def user(self, ts, content, *, parent="last", sidechain=None, extra_before=None, extra=None):
        d = self._common(self._parent(parent), sidechain)
        if extra_before:
            d.update(extra_before)
        d["type"] = "user"
        d["message"] = {"role": "user", "content": content}
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = ts
        if extra:
            d.update(extra)
        return self.add(d)

    def result(self, ts, parent, tool_use_id, content, tur, *, is_error=None, sidechain=None,
               extra=None):
        block = {"tool_use_id": tool_use_id, "type": "tool_result", "content": content}
        if is_error is not None:
            block["is_error"] = is_error
        d = self._common(self._parent(parent), sidechain)
        d["type"] = "user"
        d["message"] = {"role": "user", "content": [block]}
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = ts
        d["toolUseResult"] = tur
        if extra:
            d.update(extra)
        return self.add(d)

    def assistant(self, ts, mid, rid, model, block, u, *, stop=None, parent="last",
                  sidechain=None, extra=None):
        d = self._common(self._parent(parent), sidechain)
        d["message"] = {"id": mid, "type": "message", "role": "assistant", "model": model,
                        "content": [block], "stop_reason": stop, "stop_sequence": None,
                        "usage": u}
        d["requestId"] = rid
        d["type"] = "assistant"
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = ts
        if extra:
            d.update(extra)
        return self.add(d)

    def tool_use(self, name, inp, *, caller=False):
        b = {"type": "tool_use", "id": self.ids.toolu(), "name": name, "input": inp}
        if caller:
            b["caller"] = {"type": "direct"}
        return b

    def hook(self, ts, content, level, tool_use_id, *, parent="last"):
        d = self._common(self._parent(parent), None)
        d["type"] = "system"
        d["content"] = content
        d["isMeta"] = False
        d["timestamp"] = ts
        d["uuid"] = self.ids.uuid()
        d["toolUseID"] = tool_use_id
        d["level"] = level
        return self.add(d)

    def progress(self, ts, data, tool_use_id, parent_tool_use_id, *, parent="last"):
        d = self._common(self._parent(parent), None)
        d["type"] = "progress"
        d["data"] = data
        d["toolUseID"] = tool_use_id
        d["parentToolUseID"] = parent_tool_use_id
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = ts
        return self.add(d, chain=False)

    def snapshot(self, ts, message_uuid, backups=None, update=False):
        return self.add({"type": "file-history-snapshot", "messageId": message_uuid,
                         "snapshot": {"messageId": message_uuid,
                                      "trackedFileBackups": backups or {}, "timestamp": ts},
                         "isSnapshotUpdate": update}, chain=False)

    def write(self):
        path = OUT / self.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for obj in self.lines:
                f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def text(t):
    return {"type": "text", "text": t}


def thinking(t, ids):
    return {"type": "thinking", "thinking": t, "signature": ids.sig()}


def numbered(src, start=1):
    return "\n".join(f"{i:>6}\u2192{line}" for i, line in enumerate(src.split("\n"), start))


# ---------------------------------------------------------------------------
# Session ids (UUID v4).  S1 sorts before S3 on purpose: the resume copies in
# S3 tie with their originals in S1 and ccusage keeps the first file in path
# order.
S1 = "3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40"   # webapp, 1.0.89, opus-4-1
S2 = "8c41d7e2-2a9f-4b63-a1d5-0e7f3c9b2d18"   # webapp, summary-only file
S3 = "b7e0d452-91c3-4f7a-8e26-4a9d1c3f0e75"   # webapp, resume of S1, spans midnight
S4 = "5a1f6e3d-0c2b-4d8e-b7a9-2e6c4f1d9a03"   # data-pipeline, 2.0.46, sonnet-4-5
S5 = "9d3b7f10-4e6a-4c21-8f5d-b2a0c7e4d631"   # api-server, 2.1.39, opus-4-5 + sub-agents
S6 = "e2c9b4a7-6d1f-4a3e-9b8c-7f0a2d5e1c96"   # data-pipeline, 2.0.46, haiku-4-5, rewind
S7 = "c4a8e1f9-3b7d-4e2a-a6c5-1d9f0b8e7a24"   # home dir, 2.1.39, local commands only

OPUS41 = "claude-opus-4-1-20250805"
SONNET4 = "claude-sonnet-4-20250514"
SONNET45 = "claude-sonnet-4-5-20250929"
OPUS45 = "claude-opus-4-5-20251101"
HAIKU45 = "claude-haiku-4-5-20251001"

WEBAPP = "-Users-alice-src-webapp"
PIPE = "-Users-alice-src-data-pipeline"
API = "-home-bob-work-api-server"
HOMEP = "-Users-alice"

LOGIN_FORM = """import { useState } from 'react';
import { useSession } from '../hooks/useSession';

export function LoginForm() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { login, pending } = useSession();

  const submit = async () => {
    if (pending) return;
    await login(email, password);
  };

  const handleKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      submit();
    }
  };

  return (
    <form onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      <input
        type="password"
        value={password}
        onKeyDown={handleKeyDown}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button type="submit" disabled={pending}>Sign in</button>
    </form>
  );
}
"""


def session1():
    t = Transcript(f"{WEBAPP}/{S1}.jsonl", S1, "1.0.89", "/Users/alice/src/webapp", "main", 101)
    ids = t.ids
    form = "/Users/alice/src/webapp/src/components/LoginForm.tsx"
    test = "/Users/alice/src/webapp/src/components/LoginForm.test.tsx"
    t.user("2025-08-24T21:02:11.482Z",
           "When I press Enter in the login form it submits twice (I see two POST /api/session "
           "in the network tab). Can you find out why and fix it?", parent=None)

    # A1: one response over five lines, output_tokens growing 9 -> 58 -> 241.
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T21:02:15.903Z", m, r, OPUS41,
                thinking("Double submit on Enter: probably a form onSubmit plus a key handler "
                         "that also submits. Read the component, grep for key handlers, and "
                         "find the existing tests in parallel.", ids),
                usage(4, 7216, 13544, 9))
    t.assistant("2025-08-24T21:02:16.377Z", m, r, OPUS41,
                text("I'll look at the login form, where its submit handler is wired up, and "
                     "the existing tests."), usage(4, 7216, 13544, 58))
    read1 = t.tool_use("Read", {"file_path": form})
    a_read = t.assistant("2025-08-24T21:02:17.010Z", m, r, OPUS41, read1, usage(4, 7216, 13544, 241))
    grep1 = t.tool_use("Grep", {"pattern": "handleKeyDown|onKeyDown",
                                "path": "/Users/alice/src/webapp/src",
                                "output_mode": "content", "-n": True})
    a_grep = t.assistant("2025-08-24T21:02:17.412Z", m, r, OPUS41, grep1, usage(4, 7216, 13544, 241))
    glob1 = t.tool_use("Glob", {"pattern": "src/**/*.test.tsx"})
    a_glob = t.assistant("2025-08-24T21:02:17.733Z", m, r, OPUS41, glob1,
                         usage(4, 7216, 13544, 241), stop="tool_use")
    # results arrive out of order (Glob, Grep, Read) and the Read result carries
    # an earlier timestamp than the Grep result written before it
    files = [test, "/Users/alice/src/webapp/src/hooks/useSession.test.tsx"]
    t.result("2025-08-24T21:02:17.981Z", a_glob["uuid"], glob1["id"], "\n".join(files),
             {"filenames": files, "durationMs": 41, "numFiles": 2, "truncated": False})
    grep_out = (f"{form}:14:  const handleKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {{\n"
                f"{form}:25:        onKeyDown={{handleKeyDown}}")
    t.result("2025-08-24T21:02:18.102Z", a_grep["uuid"], grep1["id"], grep_out,
             {"mode": "content", "numFiles": 0, "filenames": [], "content": grep_out, "numLines": 2})
    t.result("2025-08-24T21:02:18.064Z", a_read["uuid"], read1["id"], numbered(LOGIN_FORM),
             {"type": "text", "file": {"filePath": form, "content": LOGIN_FORM,
                                       "numLines": 34, "startLine": 1, "totalLines": 34}})

    # A2: two lines with identical usage; the Edit fails (bare-string toolUseResult)
    m, r = ids.msg(), ids.req()
    a2_id, a2_req = m, r
    a2_text = ("Found it. The `<form>` already submits on Enter through `onSubmit`, and "
               "`handleKeyDown` on the password field calls `submit()` a second time, so every "
               "Enter fires two requests. I'll remove the key handler.")
    t.assistant("2025-08-24T21:02:24.551Z", m, r, OPUS41, text(a2_text), usage(4, 1382, 20760, 312))
    bad_old = ("  const handleKeyDown = (e: React.KeyboardEvent) => {\n"
               "    if (e.key === 'Enter') submit();\n  };\n")
    edit1 = t.tool_use("Edit", {"file_path": form, "old_string": bad_old, "new_string": ""})
    t.assistant("2025-08-24T21:02:25.019Z", m, r, OPUS41, edit1, usage(4, 1382, 20760, 312),
                stop="tool_use")
    t.result("2025-08-24T21:02:25.388Z", "last", edit1["id"],
             f"<tool_use_error>String to replace not found in file.\nString: {bad_old}</tool_use_error>",
             f"Error: String to replace not found in file.\nString: {bad_old}", is_error=True)

    # A3: retry with the exact text
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T21:02:29.870Z", m, r, OPUS41,
                text("The handler spans more lines than I assumed; removing it with the exact text."),
                usage(4, 643, 22142, 287))
    old = ("  const handleKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {\n"
           "    if (e.key === 'Enter') {\n      submit();\n    }\n  };\n\n")
    edit2 = t.tool_use("Edit", {"file_path": form, "old_string": old, "new_string": ""})
    t.assistant("2025-08-24T21:02:30.415Z", m, r, OPUS41, edit2, usage(4, 643, 22142, 287),
                stop="tool_use")
    after = LOGIN_FORM.replace(old, "")
    t.result("2025-08-24T21:02:30.702Z", "last", edit2["id"],
             f"The file {form} has been updated. Here's the result of running `cat -n` on a "
             f"snippet of the edited file:\n" + numbered("\n".join(after.split("\n")[8:16]), 9),
             {"filePath": form, "oldString": old, "newString": "", "originalFile": LOGIN_FORM,
              "structuredPatch": [{"oldStart": 11, "oldLines": 12, "newStart": 11, "newLines": 6,
                                   "lines": ["     await login(email, password);", "   };", " ",
                                             "-  const handleKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {",
                                             "-    if (e.key === 'Enter') {", "-      submit();",
                                             "-    }", "-  };", "-", "   return (",
                                             "     <form onSubmit={(e) => { e.preventDefault(); submit(); }}>"]}],
              "userModified": False, "replaceAll": False})
    t.hook("2025-08-24T21:02:31.944Z",
           "\u001b[1mPostToolUse:Edit\u001b[22m [npx prettier --write \"$CLAUDE_FILE_PATHS\"] "
           "completed successfully", "info", edit2["id"])

    # A4: second Edit, hook warning with colour codes and a non-ASCII glyph
    m, r = ids.msg(), ids.req()
    edit3 = t.tool_use("Edit", {"file_path": form,
                                "old_string": "        onKeyDown={handleKeyDown}\n",
                                "new_string": ""})
    t.assistant("2025-08-24T21:02:35.207Z", m, r, OPUS41, edit3, usage(4, 512, 22785, 164),
                stop="tool_use")
    t.result("2025-08-24T21:02:35.490Z", "last", edit3["id"],
             f"The file {form} has been updated. Here's the result of running `cat -n` on a "
             "snippet of the edited file:\n" + numbered("        value={password}\n        onChange={(e) => setPassword(e.target.value)}", 18),
             {"filePath": form, "oldString": "        onKeyDown={handleKeyDown}\n", "newString": "",
              "originalFile": after,
              "structuredPatch": [{"oldStart": 17, "oldLines": 4, "newStart": 17, "newLines": 3,
                                   "lines": ["         type=\"password\"", "         value={password}",
                                             "-        onKeyDown={handleKeyDown}",
                                             "         onChange={(e) => setPassword(e.target.value)}"]}],
              "userModified": False, "replaceAll": False})
    t.hook("2025-08-24T21:02:37.013Z",
           "\u001b[1mPostToolUse:Edit\u001b[22m [npx eslint --fix \"$CLAUDE_FILE_PATHS\"] failed "
           "with non-blocking status code 1: \u001b[31m\u2716\u001b[39m 1 problem (0 errors, "
           "1 warning)\n  \u001b[2m3:10\u001b[22m  \u001b[33mwarning\u001b[39m  'useState' import "
           "order  import/order", "warning", edit3["id"])

    # A5: TodoWrite
    m, r = ids.msg(), ids.req()
    todos = [{"content": "Remove duplicate Enter handler from LoginForm", "status": "completed",
              "activeForm": "Removing duplicate Enter handler from LoginForm"},
             {"content": "Add regression test for single submit on Enter", "status": "in_progress",
              "activeForm": "Adding regression test for single submit on Enter"},
             {"content": "Check the API session endpoint", "status": "pending",
              "activeForm": "Checking the API session endpoint"}]
    todo = t.tool_use("TodoWrite", {"todos": todos})
    t.assistant("2025-08-24T21:02:40.662Z", m, r, OPUS41, todo, usage(4, 490, 23297, 233),
                stop="tool_use")
    t.result("2025-08-24T21:02:40.719Z", "last", todo["id"],
             "Todos have been modified successfully. Ensure that you continue to use the todo list "
             "to track your progress. Please proceed with the current tasks if applicable",
             {"oldTodos": [], "newTodos": todos})

    # A6: text + Task (identical usage); the sub-agent runs inline (isSidechain)
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T21:02:45.302Z", m, r, OPUS41,
                text("Now I'll have a sub-agent add a regression test and run the component tests."),
                usage(4, 318, 23787, 198))
    prompt = ("In /Users/alice/src/webapp, add a test to src/components/LoginForm.test.tsx "
              "asserting that pressing Enter in the password field calls login() exactly once. "
              "Run that test file with vitest and report the result.")
    task = t.tool_use("Task", {"description": "Add regression test", "prompt": prompt,
                               "subagent_type": "general-purpose"})
    a_task = t.assistant("2025-08-24T21:02:46.011Z", m, r, OPUS41, task, usage(4, 318, 23787, 198),
                         stop="tool_use")
    t.user("2025-08-24T21:02:46.120Z", prompt, parent=None, sidechain=True)
    m, r = ids.msg(), ids.req()
    sr = t.tool_use("Read", {"file_path": test})
    t.assistant("2025-08-24T21:02:51.237Z", m, r, OPUS41, sr, usage(3, 9874, 0, 95),
                sidechain=True, stop="tool_use")
    test_src = ("import { render, screen } from '@testing-library/react';\n"
                "import userEvent from '@testing-library/user-event';\n"
                "import { LoginForm } from './LoginForm';\n\n"
                "const login = vi.fn();\n"
                "vi.mock('../hooks/useSession', () => ({ useSession: () => ({ login, pending: false }) }));\n")
    t.result("2025-08-24T21:02:51.301Z", "last", sr["id"], numbered(test_src),
             {"type": "text", "file": {"filePath": test, "content": test_src, "numLines": 6,
                                       "startLine": 1, "totalLines": 58}}, sidechain=True)
    m, r = ids.msg(), ids.req()
    new_test = ("it('submits once when Enter is pressed in the password field', async () => {\n"
                "  render(<LoginForm />);\n"
                "  await userEvent.type(screen.getByLabelText(/password/i), 'hunter2{Enter}');\n"
                "  expect(login).toHaveBeenCalledTimes(1);\n});\n")
    se = t.tool_use("Edit", {"file_path": test, "old_string": "describe('LoginForm', () => {\n",
                             "new_string": "describe('LoginForm', () => {\n" + new_test})
    t.assistant("2025-08-24T21:02:56.880Z", m, r, OPUS41, se, usage(3, 1120, 9874, 402),
                sidechain=True, stop="tool_use")
    t.result("2025-08-24T21:02:57.114Z", "last", se["id"],
             f"The file {test} has been updated.",
             {"filePath": test, "oldString": "describe('LoginForm', () => {\n",
              "newString": "describe('LoginForm', () => {\n" + new_test, "originalFile": test_src,
              "structuredPatch": [{"oldStart": 8, "oldLines": 1, "newStart": 8, "newLines": 6,
                                   "lines": [" describe('LoginForm', () => {"] +
                                            ["+" + x for x in new_test.rstrip("\n").split("\n")]}],
              "userModified": False, "replaceAll": False}, sidechain=True)
    m, r = ids.msg(), ids.req()
    sb = t.tool_use("Bash", {"command": "npx vitest run src/components/LoginForm.test.tsx",
                             "description": "Run LoginForm tests"})
    t.assistant("2025-08-24T21:02:59.640Z", m, r, OPUS41, sb, usage(3, 845, 10994, 118),
                sidechain=True, stop="tool_use")
    vitest = ("\n RUN  v3.2.4 /Users/alice/src/webapp\n\n \u2713 src/components/LoginForm.test.tsx (5 tests) 48ms\n\n"
              " Test Files  1 passed (1)\n      Tests  5 passed (5)\n   Start at  23:03:00\n   Duration  1.21s\n")
    t.result("2025-08-24T21:03:01.902Z", "last", sb["id"], vitest,
             {"stdout": vitest, "stderr": "", "interrupted": False, "isImage": False}, sidechain=True)
    # a sidechain line that replays the parent's message A2 (same message.id, new
    # requestId, larger usage) -- ccusage 20 keeps the parent copy and drops it.
    # Its timestamp is also earlier than the line before it.
    t.assistant("2025-08-24T21:02:58.530Z", a2_id, ids.req(), OPUS41, text(a2_text),
                usage(3, 21500, 11839, 312), sidechain=True)
    m, r = ids.msg(), ids.req()
    final_sc = ("Added `submits once when Enter is pressed in the password field` to "
                "src/components/LoginForm.test.tsx. All 5 tests in the file pass.")
    t.assistant("2025-08-24T21:03:05.660Z", m, r, OPUS41, text(final_sc), usage(3, 512, 11839, 87),
                sidechain=True, stop="end_turn")
    t.result("2025-08-24T21:03:05.912Z", a_task["uuid"], task["id"], [text(final_sc)],
             {"content": [text(final_sc)], "totalDurationMs": 19794, "totalTokens": 12441,
              "totalToolUseCount": 3,
              "usage": {"input_tokens": 3, "cache_creation_input_tokens": 512,
                        "cache_read_input_tokens": 11839, "output_tokens": 87,
                        "service_tier": "standard"}})

    # A7: wrap-up of the first request
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T21:03:11.003Z", m, r, OPUS41,
                text("Fixed. `LoginForm` no longer has its own Enter handler; the form's "
                     "`onSubmit` is the only path, so Enter sends one request. A regression test "
                     "now checks that `login()` is called exactly once."),
                usage(4, 402, 24105, 141), stop="end_turn")

    # cwd changes after a `cd` in Bash
    t.user("2025-08-24T21:05:40.225Z",
           "also run the api package tests, I think the session endpoint might have the same problem")
    m, r = ids.msg(), ids.req()
    bash = t.tool_use("Bash", {"command": "cd packages/api && npm test -- session",
                               "description": "Run API session tests"})
    t.assistant("2025-08-24T21:05:44.018Z", m, r, OPUS41, bash, usage(4, 96, 24646, 129),
                stop="tool_use")
    t.cwd = "/Users/alice/src/webapp/packages/api"
    jest = ("\n> @webapp/api@0.9.3 test\n> jest session\n\nPASS src/routes/session.test.ts\n"
            "  POST /session\n    \u2713 creates a session (41 ms)\n    \u2713 is idempotent per CSRF token (12 ms)\n\n"
            "Tests:       7 passed, 7 total\nTime:        2.384 s\n")
    t.result("2025-08-24T21:05:49.377Z", "last", bash["id"], jest,
             {"stdout": jest, "stderr": "", "interrupted": False, "isImage": False})
    m, r = ids.msg(), ids.req()
    g2 = t.tool_use("Grep", {"pattern": "router\\.post\\('/session'", "path": "src",
                             "output_mode": "files_with_matches"})
    t.assistant("2025-08-24T21:05:54.120Z", m, r, OPUS41, g2, usage(4, 1205, 24742, 110),
                stop="tool_use")
    t.result("2025-08-24T21:05:54.301Z", "last", g2["id"], "Found 1 file\nsrc/routes/session.ts",
             {"mode": "files_with_matches", "filenames": ["src/routes/session.ts"], "numFiles": 1})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T21:06:02.771Z", m, r, OPUS41,
                text("The API side is fine: `POST /session` is idempotent per CSRF token and its "
                     "7 tests pass. The double request came only from the form."),
                usage(4, 233, 25947, 96), stop="end_turn")
    return t


def session2(s1):
    t = Transcript(f"{WEBAPP}/{S2}.jsonl", S2, "1.0.89", "", "", 102)
    leaf_a = next(l["uuid"] for l in s1.lines
                  if l.get("type") == "assistant" and l["message"]["stop_reason"] == "end_turn"
                  and not l["isSidechain"])
    t.add({"type": "summary", "summary": "Login form double submit on Enter fixed",
           "leafUuid": leaf_a}, chain=False)
    t.add({"type": "summary", "summary": "API session tests pass after removing duplicate Enter handler",
           "leafUuid": s1.lines[-1]["uuid"]}, chain=False)
    return t


def session3(s1):
    t = Transcript(f"{WEBAPP}/{S3}.jsonl", S3, "1.0.89", "/Users/alice/src/webapp/packages/api",
                   "main", 103)
    ids = t.ids
    t.add({"type": "summary", "summary": "API session tests pass after removing duplicate Enter handler",
           "leafUuid": s1.lines[-1]["uuid"]}, chain=False)
    # resumed session: the last exchange of S1 is copied verbatim (same uuid,
    # message.id, requestId, timestamp); only sessionId is the new session's.
    start = next(i for i, l in enumerate(s1.lines)
                 if l.get("type") == "user" and isinstance(l["message"]["content"], str)
                 and l["message"]["content"].startswith("also run the api"))
    for l in s1.lines[start:]:
        c = copy.deepcopy(l)
        c["sessionId"] = S3
        t.add(c)

    t.user("2025-08-24T23:48:31.120Z", "commit this on a new branch and open a PR")
    m, r = ids.msg(), ids.req()
    b = t.tool_use("Bash", {"command": "cd /Users/alice/src/webapp && git checkout -b fix/login-double-submit "
                                       "&& git add src/components && git commit -m \"fix(login): submit once on Enter\"",
                            "description": "Create branch and commit"})
    t.assistant("2025-08-24T23:48:36.904Z", m, r, OPUS41, b, usage(4, 2118, 26170, 203), stop="tool_use")
    t.cwd = "/Users/alice/src/webapp"
    out = ("Switched to a new branch 'fix/login-double-submit'\n[fix/login-double-submit 4c7d2e1] "
           "fix(login): submit once on Enter\n 2 files changed, 7 insertions(+), 6 deletions(-)")
    t.result("2025-08-24T23:48:37.655Z", "last", b["id"], out,
             {"stdout": out, "stderr": "", "interrupted": False, "isImage": False})
    t.branch = "fix/login-double-submit"
    m, r = ids.msg(), ids.req()
    b = t.tool_use("Bash", {"command": "git push -u origin fix/login-double-submit && gh pr create --fill",
                            "description": "Push branch and open PR"})
    t.assistant("2025-08-24T23:48:41.218Z", m, r, OPUS41, b, usage(4, 389, 28288, 94), stop="tool_use")
    out = "https://github.com/alice-example/webapp/pull/482"
    t.result("2025-08-24T23:48:47.530Z", "last", b["id"], out,
             {"stdout": out, "stderr": "remote: \nremote: Create a pull request for 'fix/login-double-submit' on GitHub by visiting:\nremote:      https://github.com/alice-example/webapp/pull/new/fix/login-double-submit\nremote: \nTo github.com:alice-example/webapp.git\n * [new branch]      fix/login-double-submit -> fix/login-double-submit\nbranch 'fix/login-double-submit' set up to track 'origin/fix/login-double-submit'.",
              "interrupted": False, "isImage": False})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T23:48:52.066Z", m, r, OPUS41,
                text("Committed on `fix/login-double-submit` and opened PR #482."),
                usage(4, 211, 28677, 31), stop="end_turn")

    # /model switch: local command lines, stdout with ANSI escapes
    t.user("2025-08-24T23:57:02.015Z",
           "<command-name>/model</command-name>\n            <command-message>model</command-message>\n"
           "            <command-args>sonnet</command-args>")
    t.user("2025-08-24T23:57:02.412Z",
           "<local-command-stdout>Set model to \u001b[1mSonnet (claude-sonnet-4-20250514)\u001b[22m"
           "</local-command-stdout>")
    t.user("2025-08-24T23:59:48.912Z", "write a short changelog entry for this fix under docs/changes")
    # one response across midnight UTC; the max-total copy (last line) is on 08-25
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-24T23:59:59.604Z", m, r, SONNET4,
                thinking("Short markdown note named after the PR number.", ids), usage(4, 3905, 18422, 11))
    t.assistant("2025-08-25T00:00:01.388Z", m, r, SONNET4,
                text("I'll add a changelog note next to the existing ones."), usage(4, 3905, 18422, 76))
    path = "/Users/alice/src/webapp/docs/changes/482-login-double-submit.md"
    note = ("### Fixed\n\n- Login form: pressing Enter in the password field no longer submits "
            "the form twice (#482).\n")
    w = t.tool_use("Write", {"file_path": path, "content": note})
    t.assistant("2025-08-25T00:00:02.191Z", m, r, SONNET4, w, usage(4, 3905, 18422, 318), stop="tool_use")
    t.result("2025-08-25T00:00:02.420Z", "last", w["id"], f"File created successfully at: {path}",
             {"type": "create", "filePath": path, "content": note, "structuredPatch": []})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-25T00:00:09.745Z", m, r, SONNET4,
                text("Added docs/changes/482-login-double-submit.md."), usage(4, 402, 22327, 19),
                stop="end_turn")

    t.user("2025-08-25T00:12:40.337Z", "actually also run the whole e2e suite before I merge")
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-25T00:12:44.861Z", m, r, SONNET4,
                text("I'll run the full Playwright suite; it takes a few minutes."),
                usage(4, 57, 22729, 15))
    t.user("2025-08-25T00:13:05.019Z", [text("[Request interrupted by user]")])
    # zero-usage <synthetic> line: counted by ccusage as an entry with 0 tokens,
    # no model, no cost
    t.assistant("2025-08-25T00:13:05.020Z", str(uuid.UUID(int=ids.r.getrandbits(128), version=4)),
                None, "<synthetic>", text("No response requested."),
                {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0},
                 "service_tier": None})
    del t.lines[-1]["requestId"]
    t.user("2025-08-25T00:13:31.806Z", "no, just the login spec")
    m, r = ids.msg(), ids.req()
    b = t.tool_use("Bash", {"command": "npx playwright test e2e/login.spec.ts --reporter=line",
                            "description": "Run login e2e spec", "timeout": 300000})
    t.assistant("2025-08-25T00:13:35.550Z", m, r, SONNET4, b, usage(4, 118, 22786, 88), stop="tool_use")
    out = ("\nRunning 4 tests using 2 workers\n[1/4] [chromium] \u203a e2e/login.spec.ts:12:3 \u203a login \u203a submits once on Enter\n"
           "[4/4] [webkit] \u203a e2e/login.spec.ts:31:3 \u203a login \u203a shows error on bad password\n  4 passed (9.8s)\n")
    t.result("2025-08-25T00:13:47.902Z", "last", b["id"], out,
             {"stdout": out, "stderr": "", "interrupted": False, "isImage": False})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-08-25T00:13:52.264Z", m, r, SONNET4,
                text("All 4 login e2e tests pass in chromium and webkit."), usage(4, 301, 22904, 23),
                stop="end_turn")
    return t


def session4():
    t = Transcript(f"{PIPE}/{S4}.jsonl", S4, "2.0.46", "/Users/alice/src/data-pipeline", "main", 104)
    ids = t.ids
    S = "2.0"
    t.add({"type": "queue-operation", "operation": "dequeue", "timestamp": "2025-11-19T14:20:03.118Z",
           "sessionId": S4}, chain=False)
    first = ids.uuid()
    t.snapshot("2025-11-19T14:20:03.140Z", first)
    t.user("2025-11-19T14:20:03.139Z",
           "The nightly orders job failed with `KeyError: 'discount_code'`. Figure out which upstream "
           "export dropped the column and make the loader tolerate it.", parent=None,
           extra={"thinkingMetadata": {"level": "high", "disabled": False, "triggers": []}})
    t.lines[-1]["uuid"] = first
    t.last = first

    # C1: identical usage on all five lines, three parallel tool calls
    m, r = ids.msg(), ids.req()
    u = usage(3, 12804, 14221, 388, style=S)
    t.assistant("2025-11-19T14:20:08.522Z", m, r, SONNET45,
                thinking("Need the traceback, the loader code and the recent exports' headers.", ids), u)
    t.assistant("2025-11-19T14:20:09.017Z", m, r, SONNET45,
                text("Let me look at the loader, the job log and the headers of the recent exports."), u)
    c_grep = t.tool_use("Grep", {"pattern": "discount_code", "path": "pipeline", "output_mode": "content",
                                 "-n": True})
    a_grep = t.assistant("2025-11-19T14:20:09.480Z", m, r, SONNET45, c_grep, u)
    c_bash = t.tool_use("Bash", {"command": "for f in exports/orders_2025-11-1*.csv; do echo \"$f: $(head -1 $f)\"; done",
                                 "description": "Show CSV headers of recent exports"})
    a_bash = t.assistant("2025-11-19T14:20:09.911Z", m, r, SONNET45, c_bash, u)
    c_read = t.tool_use("Read", {"file_path": "/Users/alice/src/data-pipeline/logs/nightly-2025-11-19.log",
                                 "offset": 180, "limit": 30})
    a_read = t.assistant("2025-11-19T14:20:10.336Z", m, r, SONNET45, c_read, u, stop="tool_use")
    hdr = ("exports/orders_2025-11-16.csv: order_id,customer_id,placed_at,total_cents,currency,discount_code\n"
           "exports/orders_2025-11-17.csv: order_id,customer_id,placed_at,total_cents,currency,discount_code\n"
           "exports/orders_2025-11-18.csv: order_id,customer_id,placed_at,total_cents,currency")
    t.result("2025-11-19T14:20:10.702Z", a_bash["uuid"], c_bash["id"], hdr,
             {"stdout": hdr, "stderr": "", "interrupted": False, "isImage": False})
    log = ("2025-11-19 02:00:14,881 INFO  loading exports/orders_2025-11-18.csv (48211 rows)\n"
           "Traceback (most recent call last):\n  File \"pipeline/loaders/orders.py\", line 42, in load_row\n"
           "    discount = row['discount_code'] or None\nKeyError: 'discount_code'")
    t.result("2025-11-19T14:20:10.655Z", a_read["uuid"], c_read["id"], numbered(log, 180),
             {"type": "text", "file": {"filePath": "/Users/alice/src/data-pipeline/logs/nightly-2025-11-19.log",
                                       "content": log, "numLines": 5, "startLine": 180, "totalLines": 186}})
    gout = ("pipeline/loaders/orders.py:42:    discount = row['discount_code'] or None\n"
            "pipeline/schemas/orders.py:17:    discount_code: str | None")
    t.result("2025-11-19T14:20:10.811Z", a_grep["uuid"], c_grep["id"], gout,
             {"mode": "content", "numFiles": 0, "filenames": [], "content": gout, "numLines": 2})

    # C2: huge pasted context -- cache_read 212,907 > 200k (tier pricing on that category)
    t.user("2025-11-19T14:21:40.090Z",
           "here is the full vendor changelog for the export service, check whether they announced it:\n\n"
           "[Pasted text #1 +6214 lines]")
    m, r = ids.msg(), ids.req()
    t.assistant("2025-11-19T14:22:31.447Z", m, r, SONNET45,
                text("The vendor changelog (v7.3.0, 2025-11-17) says: \"`discount_code` moved to the "
                     "`order_adjustments` export\". The 2025-11-18 file is the first without it, so the "
                     "loader must treat the column as optional."),
                usage(3, 19344, 212907, 641, style=S), stop="end_turn")

    # two API errors: <synthetic> lines without usage
    t.user("2025-11-19T14:23:02.555Z", "ok, make the loader tolerate the missing column and add a test")
    for ts in ("2025-11-19T14:23:41.902Z", "2025-11-19T14:24:58.117Z"):
        d = t._common(t.last, None)
        d.update({"type": "assistant", "uuid": ids.uuid(), "timestamp": ts, "requestId": ids.req(),
                  "error": "rate_limit", "apiErrorStatus": 429, "isApiErrorMessage": True,
                  "message": {"model": "<synthetic>", "role": "assistant", "type": "message",
                              "content": [text("API Error: 429 {\"type\":\"error\",\"error\":{\"type\":"
                                               "\"rate_limit_error\",\"message\":\"This request would exceed "
                                               "the rate limit for your organization of 450,000 input tokens "
                                               "per minute.\"}}")]}})
        t.add(d)
    t.user("2025-11-19T14:26:10.003Z", "continue")

    # C3: cache_creation 5m 131,072 + 1h 74,880 = 205,952 > 200k in sum, but the tier is
    # applied per sub-category, so neither part is tiered
    m, r = ids.msg(), ids.req()
    u = usage(3, 131072, 2144, 517, cc1=74880, style=S)
    t.assistant("2025-11-19T14:26:19.410Z", m, r, SONNET45,
                text("Making `discount_code` optional in the loader."), u)
    old = "    discount = row['discount_code'] or None\n"
    new = "    discount = row.get('discount_code') or None\n"
    e = t.tool_use("Edit", {"file_path": "/Users/alice/src/data-pipeline/pipeline/loaders/orders.py",
                            "old_string": old, "new_string": new})
    t.assistant("2025-11-19T14:26:20.057Z", m, r, SONNET45, e, u, stop="tool_use")
    t.result("2025-11-19T14:26:20.390Z", "last", e["id"],
             "The file /Users/alice/src/data-pipeline/pipeline/loaders/orders.py has been updated. "
             "Here's the result of running `cat -n` on a snippet of the edited file:\n" +
             numbered("def load_row(row):\n" + new.rstrip("\n"), 41),
             {"filePath": "/Users/alice/src/data-pipeline/pipeline/loaders/orders.py", "oldString": old,
              "newString": new, "originalFile": None,
              "structuredPatch": [{"oldStart": 41, "oldLines": 2, "newStart": 41, "newLines": 2,
                                   "lines": [" def load_row(row):", "-" + old.rstrip("\n"),
                                             "+" + new.rstrip("\n")]}],
              "userModified": False, "replaceAll": False})
    t.snapshot("2025-11-19T14:26:20.391Z", first,
               {"pipeline/loaders/orders.py": {"backupFileName": "8f3e2a91c04d7b65@v1", "version": 1,
                                               "backupTime": "2025-11-19T14:26:20.388Z"}}, update=True)

    # C4: Write a new test file (1h cache writes only)
    m, r = ids.msg(), ids.req()
    tp = "/Users/alice/src/data-pipeline/tests/test_orders_loader.py"
    body = ("from pipeline.loaders.orders import load_row\n\n\n"
            "def test_missing_discount_code_is_none():\n"
            "    row = {'order_id': '1', 'customer_id': 'c1', 'placed_at': '2025-11-18T10:00:00Z',\n"
            "           'total_cents': '1299', 'currency': 'EUR'}\n"
            "    assert load_row(row).discount is None\n")
    w = t.tool_use("Write", {"file_path": tp, "content": body})
    t.assistant("2025-11-19T14:26:27.780Z", m, r, SONNET45, w, usage(3, 0, 208096, 402, cc1=1160, style=S),
                stop="tool_use")
    t.result("2025-11-19T14:26:28.002Z", "last", w["id"], f"File created successfully at: {tp}",
             {"type": "create", "filePath": tp, "content": body, "structuredPatch": [], "originalFile": None})

    # C5: Bash pytest, then final answer
    m, r = ids.msg(), ids.req()
    b = t.tool_use("Bash", {"command": "uv run pytest tests/test_orders_loader.py -q",
                            "description": "Run the new loader test"})
    t.assistant("2025-11-19T14:26:33.145Z", m, r, SONNET45, b, usage(3, 1391, 209256, 96, style=S),
                stop="tool_use")
    out = ".\n1 passed in 0.41s"
    t.result("2025-11-19T14:26:35.864Z", "last", b["id"], out,
             {"stdout": out, "stderr": "", "interrupted": False, "isImage": False})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-11-19T14:26:41.290Z", m, r, SONNET45,
                text("Done: `load_row` now uses `row.get('discount_code')`, and "
                     "tests/test_orders_loader.py covers the 2025-11-18 export shape."),
                usage(3, 204, 210647, 58, style=S), stop="end_turn")
    d = t._common(t.last, None)
    d.update({"type": "system",
              "content": "\u001b[1mStop\u001b[22m [~/.claude/hooks/notify.sh] failed with non-blocking "
                         "status code 127: \u001b[31m/bin/sh: terminal-notifier: command not found\u001b[39m",
              "isMeta": False, "timestamp": "2025-11-19T14:26:41.512Z", "uuid": ids.uuid(),
              "level": "warning"})
    t.add(d)
    return t


def session6():
    t = Transcript(f"{PIPE}/{S6}.jsonl", S6, "2.0.46", "/Users/alice/src/data-pipeline", "main", 106)
    ids = t.ids
    S = "2.0"
    q = ids.uuid()
    t.snapshot("2025-11-20T09:14:22.660Z", q)
    t.user("2025-11-20T09:14:22.659Z", "what does `make backfill` do?", parent=None)
    t.lines[-1]["uuid"] = q
    t.last = q
    m, r = ids.msg(), ids.req()
    rd = t.tool_use("Read", {"file_path": "/Users/alice/src/data-pipeline/Makefile"})
    t.assistant("2025-11-20T09:14:25.118Z", m, r, HAIKU45, rd, usage(10, 3120, 11876, 61, style=S),
                stop="tool_use")
    mk = ("backfill:\n\tuv run python -m pipeline.backfill --days $${DAYS:-3} --target $${TARGET:-staging}\n")
    t.result("2025-11-20T09:14:25.230Z", "last", rd["id"], numbered(mk, 31),
             {"type": "text", "file": {"filePath": "/Users/alice/src/data-pipeline/Makefile", "content": mk,
                                       "numLines": 3, "startLine": 31, "totalLines": 44}})
    m, r = ids.msg(), ids.req()
    ans = t.assistant("2025-11-20T09:14:27.904Z", m, r, HAIKU45,
                      text("`make backfill` re-runs the loaders for the last `DAYS` days (default 3) "
                           "against `TARGET` (default `staging`)."),
                      usage(10, 266, 14996, 44, style=S), stop="end_turn")
    t.user("2025-11-20T09:15:03.442Z", "and with DAYS=7, how long does it take?")
    m, r = ids.msg(), ids.req()
    t.assistant("2025-11-20T09:15:05.870Z", m, r, HAIKU45,
                text("I can't tell from the Makefile; the backfill module doesn't log timings."),
                usage(10, 71, 15262, 21, style=S), stop="end_turn")
    # rewind: the user edits the second prompt -> a second child of `ans`
    t.user("2025-11-20T09:15:41.009Z", "does `make backfill` ever touch the prod database?",
           parent=ans["uuid"])
    m, r = ids.msg(), ids.req()
    g = t.tool_use("Grep", {"pattern": "prod", "path": "pipeline/backfill.py", "output_mode": "content",
                            "-i": True, "-n": True})
    t.assistant("2025-11-20T09:15:43.585Z", m, r, HAIKU45, g, usage(10, 83, 15262, 58, style=S),
                stop="tool_use")
    out = "pipeline/backfill.py:12:    if target == 'prod' and not os.environ.get('BACKFILL_ALLOW_PROD'):"
    t.result("2025-11-20T09:15:43.702Z", "last", g["id"], out,
             {"mode": "content", "numFiles": 0, "filenames": [], "content": out, "numLines": 1})
    m, r = ids.msg(), ids.req()
    t.assistant("2025-11-20T09:15:46.331Z", m, r, HAIKU45,
                text("Only with `TARGET=prod`, and even then it refuses unless `BACKFILL_ALLOW_PROD` is set."),
                usage(10, 152, 15345, 33, style=S), stop="end_turn")
    return t


def session5():
    slug = "quiet-amber-lantern"
    t = Transcript(f"{API}/{S5}.jsonl", S5, "2.1.39", "/home/bob/work/api-server", "feat/rate-limit", 105)
    ids = t.ids
    S = "2.1"
    hook_id = ids.toolu()
    t.progress("2026-02-10T16:40:01.774Z",
               {"type": "hook_progress", "hookEvent": "SessionStart", "hookName": "SessionStart:startup",
                "command": "~/.claude/hooks/load-env.sh"}, hook_id, hook_id, parent=None)
    q = ids.uuid()
    t.snapshot("2026-02-10T16:40:09.325Z", q)
    t.user("2026-02-10T16:40:09.318Z",
           "Add per-API-key rate limiting to the HTTP server (token bucket, 20 req/s, burst 40), with "
           "tests. Look at how middleware is wired first.", parent=None,
           extra={"permissionMode": "acceptEdits"})
    t.lines[-1]["uuid"] = q
    t.last = q
    t.slug = slug

    # E1: thinking + text + Task(Explore), identical usage, 1h cache writes
    m, r = ids.msg(), ids.req()
    u = usage(3, 0, 0, 512, cc1=21407, style=S)
    t.assistant("2026-02-10T16:40:14.006Z", m, r, OPUS45,
                thinking("Explore middleware wiring and API key resolution first; a cheap sub-agent "
                         "can map it.", ids), u)
    t.assistant("2026-02-10T16:40:14.711Z", m, r, OPUS45,
                text("I'll have an Explore agent map the middleware chain and the API-key lookup."), u)
    explore_prompt = ("Find how HTTP middleware is registered in this Go server and where API keys are "
                      "resolved from requests. Report file paths and function names.")
    task = t.tool_use("Task", {"description": "Map middleware and API keys", "prompt": explore_prompt,
                               "subagent_type": "Explore"}, caller=True)
    a_task = t.assistant("2026-02-10T16:40:15.290Z", m, r, OPUS45, task, u, stop="tool_use")

    # --- the Explore sub-agent's own file ----------------------------------
    agent = Transcript(f"{API}/{S5}/subagents/agent-a3f9c21.jsonl", S5, "2.1.39",
                       "/home/bob/work/api-server", "feat/rate-limit", 107, sidechain=True,
                       agent_id="a3f9c21", slug=slug)
    aids = agent.ids
    agent.user("2026-02-10T16:40:15.402Z", explore_prompt, parent=None)
    am, ar = aids.msg(), aids.req()
    gl = agent.tool_use("Glob", {"pattern": "**/*middleware*.go"}, caller=True)
    agent.assistant("2026-02-10T16:40:17.955Z", am, ar, HAIKU45, gl, usage(3, 4911, 9230, 88, style=S),
                    stop="tool_use")
    mw = ["/home/bob/work/api-server/internal/http/middleware.go",
          "/home/bob/work/api-server/internal/http/middleware_test.go"]
    agent.result("2026-02-10T16:40:18.011Z", "last", gl["id"], "\n".join(mw),
                 {"filenames": mw, "durationMs": 17, "numFiles": 2, "truncated": False})
    am, ar = aids.msg(), aids.req()
    u2 = usage(3, 3276, 14141, 156, style=S)
    rd = agent.tool_use("Read", {"file_path": "/home/bob/work/api-server/internal/http/server.go"}, caller=True)
    a_rd = agent.assistant("2026-02-10T16:40:20.630Z", am, ar, HAIKU45, rd, u2)
    gp = agent.tool_use("Grep", {"pattern": "APIKey|X-Api-Key", "path": "internal", "output_mode": "content",
                                 "-n": True}, caller=True)
    a_gp = agent.assistant("2026-02-10T16:40:20.988Z", am, ar, HAIKU45, gp, u2, stop="tool_use")
    gout = ("internal/auth/apikey.go:23:func APIKeyFromRequest(r *http.Request) (string, bool) {\n"
            "internal/auth/apikey.go:24:\tk := r.Header.Get(\"X-Api-Key\")")
    agent.result("2026-02-10T16:40:21.104Z", a_gp["uuid"], gp["id"], gout,
                 {"mode": "content", "numFiles": 0, "filenames": [], "content": gout, "numLines": 2})
    srv = ("func (s *Server) routes() http.Handler {\n\tmux := http.NewServeMux()\n\ts.registerHandlers(mux)\n"
           "\treturn chain(mux, s.recoverer, s.logger, s.auth)\n}")
    agent.result("2026-02-10T16:40:21.060Z", a_rd["uuid"], rd["id"], numbered(srv, 58),
                 {"type": "text", "file": {"filePath": "/home/bob/work/api-server/internal/http/server.go",
                                           "content": srv, "numLines": 5, "startLine": 58, "totalLines": 112}})
    am, ar = aids.msg(), aids.req()
    report = ("Middleware is composed in internal/http/server.go `(*Server).routes()` via "
              "`chain(mux, s.recoverer, s.logger, s.auth)` (chain is in internal/http/middleware.go; "
              "the last argument runs first). API keys come from `auth.APIKeyFromRequest` "
              "(internal/auth/apikey.go:23), reading the X-Api-Key header.")
    final_u = usage(3, 2064, 17417, 402, style=S)
    a_final = agent.assistant("2026-02-10T16:40:27.341Z", am, ar, HAIKU45, text(report), final_u,
                              stop="end_turn")

    # progress lines in the parent while the agent runs (timestamps interleave)
    t.progress("2026-02-10T16:40:15.410Z",
               {"type": "agent_progress", "agentId": "a3f9c21", "prompt": explore_prompt,
                "message": {"type": "user", "message": {"role": "user", "content": [text(explore_prompt)]},
                            "uuid": agent.lines[0]["uuid"], "timestamp": "2026-02-10T16:40:15.402Z"},
                "normalizedMessages": []}, ids.toolu(), task["id"], parent=a_task["uuid"])
    # this one embeds the sub-agent's final assistant message, usage included:
    # ccusage `daily` reads it (deduplicated against the sub-agent file), `session` ignores it
    emb = copy.deepcopy(a_final)
    t.progress("2026-02-10T16:40:27.355Z",
               {"type": "agent_progress", "agentId": "a3f9c21", "prompt": "",
                "message": {"type": "assistant", "message": emb["message"], "requestId": emb["requestId"],
                            "isSidechain": True, "uuid": emb["uuid"], "timestamp": emb["timestamp"]},
                "normalizedMessages": []}, ids.toolu(), task["id"], parent=a_task["uuid"])

    # parent's Task result: toolUseResult.usage/totalTokens describe the agent -- not counted
    t.result("2026-02-10T16:40:27.480Z", a_task["uuid"], task["id"], [text(report)],
             {"status": "completed", "prompt": explore_prompt, "agentId": "a3f9c21",
              "content": [text(report)], "totalDurationMs": 12190, "totalTokens": 19886,
              "totalToolUseCount": 3,
              "usage": {"input_tokens": 3, "cache_creation_input_tokens": 2064,
                        "cache_read_input_tokens": 17417,
                        "cache_creation": {"ephemeral_5m_input_tokens": 2064, "ephemeral_1h_input_tokens": 0},
                        "output_tokens": 402, "service_tier": "standard",
                        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0}}},
             extra={"agentId": "a3f9c21", "sourceToolAssistantUUID": a_task["uuid"]})

    # E2: thinking/text/Write with growing output
    m, r = ids.msg(), ids.req()
    rl_path = "/home/bob/work/api-server/internal/http/ratelimit.go"
    rl = ("package http\n\nimport (\n\t\"net/http\"\n\t\"sync\"\n\n\t\"golang.org/x/time/rate\"\n\n"
          "\t\"example.com/api-server/internal/auth\"\n)\n\n"
          "type keyLimiter struct {\n\tmu       sync.Mutex\n\tlimiters map[string]*rate.Limiter\n"
          "\trps      rate.Limit\n\tburst    int\n}\n\n"
          "func (k *keyLimiter) get(key string) *rate.Limiter {\n\tk.mu.Lock()\n\tdefer k.mu.Unlock()\n"
          "\tl, ok := k.limiters[key]\n\tif !ok {\n\t\tl = rate.NewLimiter(k.rps, k.burst)\n"
          "\t\tk.limiters[key] = l\n\t}\n\treturn l\n}\n\n"
          "func (s *Server) rateLimit(next http.Handler) http.Handler {\n"
          "\treturn http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {\n"
          "\t\tkey, _ := auth.APIKeyFromRequest(r)\n\t\tif !s.limiter.get(key).Allow() {\n"
          "\t\t\thttp.Error(w, \"rate limit exceeded\", http.StatusTooManyRequests)\n\t\t\treturn\n\t\t}\n"
          "\t\tnext.ServeHTTP(w, r)\n\t})\n}\n")
    t.assistant("2026-02-10T16:40:33.126Z", m, r, OPUS45,
                thinking("Per-key token bucket with x/time/rate, placed after auth.", ids),
                usage(3, 0, 21407, 14, cc1=3318, style=S), parent=t.last)
    t.assistant("2026-02-10T16:40:34.502Z", m, r, OPUS45,
                text("Adding a per-key limiter using `golang.org/x/time/rate`."),
                usage(3, 0, 21407, 95, cc1=3318, style=S))
    w = t.tool_use("Write", {"file_path": rl_path, "content": rl}, caller=True)
    t.assistant("2026-02-10T16:40:51.870Z", m, r, OPUS45, w, usage(3, 0, 21407, 1380, cc1=3318, style=S),
                stop="tool_use")
    t.result("2026-02-10T16:40:52.033Z", "last", w["id"], f"File created successfully at: {rl_path}",
             {"type": "create", "filePath": rl_path, "content": rl, "structuredPatch": [], "originalFile": None},
             extra={"sourceToolAssistantUUID": t.last})
    t.progress("2026-02-10T16:40:52.040Z",
               {"type": "hook_progress", "hookEvent": "PostToolUse", "hookName": "PostToolUse:Write",
                "command": "gofmt -w \"$CLAUDE_FILE_PATHS\""}, ids.toolu(), w["id"])
    # a line of a type this parser generation has never seen
    t.add({"type": "context-checkpoint", "checkpointId": "ckpt_" + ids.hex(16), "tokensInContext": 26218,
           "reason": "tool_batch_end", "sessionId": S5, "uuid": ids.uuid(),
           "timestamp": "2026-02-10T16:40:52.051Z"}, chain=False)

    # E3: Edit server.go to wire the middleware
    m, r = ids.msg(), ids.req()
    old = "\treturn chain(mux, s.recoverer, s.logger, s.auth)\n"
    new = "\treturn chain(mux, s.recoverer, s.logger, s.rateLimit, s.auth)\n"
    e = t.tool_use("Edit", {"file_path": "/home/bob/work/api-server/internal/http/server.go",
                            "old_string": old, "new_string": new, "replace_all": False}, caller=True)
    t.assistant("2026-02-10T16:40:58.318Z", m, r, OPUS45, e, usage(3, 0, 24725, 173, cc1=1452, style=S),
                stop="tool_use")
    t.result("2026-02-10T16:40:58.671Z", "last", e["id"],
             "The file /home/bob/work/api-server/internal/http/server.go has been updated successfully.",
             {"filePath": "/home/bob/work/api-server/internal/http/server.go", "oldString": old, "newString": new,
              "originalFile": srv + "\n",
              "structuredPatch": [{"oldStart": 61, "oldLines": 1, "newStart": 61, "newLines": 1,
                                   "lines": ["-" + old.rstrip("\n"), "+" + new.rstrip("\n")]}],
              "userModified": False, "replaceAll": False},
             extra={"sourceToolAssistantUUID": t.last})

    # E4: Bash go test -- fails (bare string toolUseResult, is_error)
    m, r = ids.msg(), ids.req()
    b = t.tool_use("Bash", {"command": "go test ./internal/http/...", "description": "Run HTTP package tests"},
                   caller=True)
    t.assistant("2026-02-10T16:41:03.502Z", m, r, OPUS45, b, usage(3, 0, 26177, 97, cc1=288, style=S),
                stop="tool_use")
    fail = ("Exit code 1\n# example.com/api-server/internal/http\ninternal/http/server.go:61:38: "
            "s.rateLimit undefined (type *Server has no field or method limiter)\nFAIL\texample.com/api-server/internal/http [build failed]")
    t.result("2026-02-10T16:41:09.224Z", "last", b["id"], fail, "Error: " + fail, is_error=True,
             extra={"sourceToolAssistantUUID": t.last})

    # E5: fix + pass
    m, r = ids.msg(), ids.req()
    old2 = "type Server struct {\n"
    new2 = "type Server struct {\n\tlimiter *keyLimiter\n"
    e2 = t.tool_use("Edit", {"file_path": "/home/bob/work/api-server/internal/http/server.go",
                             "old_string": old2, "new_string": new2, "replace_all": False}, caller=True)
    t.assistant("2026-02-10T16:41:14.890Z", m, r, OPUS45, e2, usage(3, 0, 26465, 121, cc1=409, style=S),
                stop="tool_use")
    t.result("2026-02-10T16:41:15.102Z", "last", e2["id"],
             "The file /home/bob/work/api-server/internal/http/server.go has been updated successfully.",
             {"filePath": "/home/bob/work/api-server/internal/http/server.go", "oldString": old2,
              "newString": new2, "originalFile": None,
              "structuredPatch": [{"oldStart": 18, "oldLines": 1, "newStart": 18, "newLines": 2,
                                   "lines": [" type Server struct {", "+\tlimiter *keyLimiter"]}],
              "userModified": False, "replaceAll": False},
             extra={"sourceToolAssistantUUID": t.last})
    m, r = ids.msg(), ids.req()
    b2 = t.tool_use("Bash", {"command": "go test ./internal/http/...", "description": "Run HTTP package tests"},
                    caller=True)
    t.assistant("2026-02-10T16:41:18.447Z", m, r, OPUS45, b2, usage(3, 0, 26874, 62, cc1=331, style=S),
                stop="tool_use")
    ok = "ok  \texample.com/api-server/internal/http\t0.412s"
    t.result("2026-02-10T16:41:24.930Z", "last", b2["id"], ok,
             {"stdout": ok, "stderr": "", "interrupted": False, "isImage": False},
             extra={"sourceToolAssistantUUID": t.last})
    pre_compact = t.last

    # --- manual compaction --------------------------------------------------
    compact = Transcript(f"{API}/{S5}/subagents/agent-acompact-7c2e91.jsonl", S5, "2.1.39",
                         "/home/bob/work/api-server", "feat/rate-limit", 108, sidechain=True,
                         agent_id="acompact-7c2e91", slug=slug)
    cids = compact.ids
    compact.user("2026-02-10T16:52:40.118Z",
                 "Your task is to create a detailed summary of the conversation so far, paying close "
                 "attention to the user's explicit requests and your previous actions.", parent=None)
    cm, cr_ = cids.msg(), cids.req()
    compact.assistant("2026-02-10T16:52:44.907Z", cm, cr_, OPUS45,
                      thinking("Summarise: goal, files touched, failing then passing tests, next steps.", cids),
                      usage(3, 0, 27205, 36, cc1=2960, style=S))
    summary = ("Analysis:\nThe user asked for per-API-key rate limiting.\n\nSummary:\n1. Primary Request: "
               "token bucket per API key, 20 req/s, burst 40, with tests.\n2. Files: internal/http/ratelimit.go "
               "(new), internal/http/server.go (chain now includes s.rateLimit; Server has limiter).\n"
               "3. Errors: build failed until Server.limiter was added; tests pass now.\n"
               "4. Pending: configuration of rps/burst, tests for 429 responses.")
    compact.assistant("2026-02-10T16:53:21.660Z", cm, cr_, OPUS45, text(summary),
                      usage(3, 0, 27205, 2187, cc1=2960, style=S), stop="end_turn")

    t.user("2026-02-10T16:52:39.981Z",
           "<command-name>/compact</command-name>\n            <command-message>compact</command-message>\n"
           "            <command-args></command-args>")
    d = t._common(None, None)
    d.update({"logicalParentUuid": t.last, "type": "system", "subtype": "compact_boundary",
              "content": "Conversation compacted", "isMeta": False, "timestamp": "2026-02-10T16:53:21.902Z",
              "uuid": ids.uuid(), "level": "info",
              "compactMetadata": {"trigger": "manual", "preTokens": 27208}})
    t.add(d)
    t.user("2026-02-10T16:53:21.903Z",
           "This session is being continued from a previous conversation that ran out of context. "
           "The summary below covers the earlier portion of the conversation.\n\n" + summary,
           extra={"isVisibleInTranscriptOnly": True, "isCompactSummary": True})
    t.user("2026-02-10T16:53:21.988Z",
           "<local-command-stdout>\u001b[2mCompacted (ctrl+o to see full summary)\u001b[22m</local-command-stdout>")

    # after compaction: make the limits configurable
    t.user("2026-02-10T16:54:02.771Z",
           "now make the limits configurable (ratelimit.rps / ratelimit.burst in config.yaml)")
    m, r = ids.msg(), ids.req()
    u = usage(3, 0, 9310, 149, cc1=4117, style=S)
    rdc = t.tool_use("Read", {"file_path": "/home/bob/work/api-server/internal/config/config.go"}, caller=True)
    a_rdc = t.assistant("2026-02-10T16:54:07.245Z", m, r, OPUS45, rdc, u)
    gpc = t.tool_use("Grep", {"pattern": "NewServer\\(", "path": ".", "output_mode": "files_with_matches"},
                     caller=True)
    a_gpc = t.assistant("2026-02-10T16:54:07.716Z", m, r, OPUS45, gpc, u, stop="tool_use")
    t.result("2026-02-10T16:54:07.902Z", a_gpc["uuid"], gpc["id"],
             "Found 2 files\ncmd/api/main.go\ninternal/http/server_test.go",
             {"mode": "files_with_matches", "filenames": ["cmd/api/main.go", "internal/http/server_test.go"],
              "numFiles": 2}, extra={"sourceToolAssistantUUID": a_gpc["uuid"]})
    cfg = ("type Config struct {\n\tListen string `yaml:\"listen\"`\n\tDB     string `yaml:\"db\"`\n}")
    t.result("2026-02-10T16:54:07.881Z", a_rdc["uuid"], rdc["id"], numbered(cfg, 9),
             {"type": "text", "file": {"filePath": "/home/bob/work/api-server/internal/config/config.go",
                                       "content": cfg, "numLines": 4, "startLine": 9, "totalLines": 41}},
             extra={"sourceToolAssistantUUID": a_rdc["uuid"]})
    m, r = ids.msg(), ids.req()
    oldc = "\tDB     string `yaml:\"db\"`\n}"
    newc = ("\tDB     string `yaml:\"db\"`\n\tRateLimit struct {\n\t\tRPS   float64 `yaml:\"rps\"`\n"
            "\t\tBurst int     `yaml:\"burst\"`\n\t} `yaml:\"ratelimit\"`\n}")
    ec = t.tool_use("Edit", {"file_path": "/home/bob/work/api-server/internal/config/config.go",
                             "old_string": oldc, "new_string": newc, "replace_all": False}, caller=True)
    t.assistant("2026-02-10T16:54:15.030Z", m, r, OPUS45, ec, usage(3, 0, 13427, 244, cc1=986, style=S),
                stop="tool_use")
    t.result("2026-02-10T16:54:15.344Z", "last", ec["id"],
             "The file /home/bob/work/api-server/internal/config/config.go has been updated successfully.",
             {"filePath": "/home/bob/work/api-server/internal/config/config.go", "oldString": oldc,
              "newString": newc, "originalFile": None,
              "structuredPatch": [{"oldStart": 11, "oldLines": 2, "newStart": 11, "newLines": 6,
                                   "lines": ["  \tDB     string `yaml:\"db\"`", "+\tRateLimit struct {",
                                             "+\t\tRPS   float64 `yaml:\"rps\"`", "+\t\tBurst int     `yaml:\"burst\"`",
                                             "+\t} `yaml:\"ratelimit\"`", " }"]}],
              "userModified": False, "replaceAll": False},
             extra={"sourceToolAssistantUUID": t.last})
    m, r = ids.msg(), ids.req()
    td = t.tool_use("TodoWrite", {"todos": [
        {"content": "Add ratelimit config fields", "status": "completed", "activeForm": "Adding ratelimit config fields"},
        {"content": "Pass config into keyLimiter", "status": "in_progress", "activeForm": "Passing config into keyLimiter"},
        {"content": "Test 429 after burst", "status": "pending", "activeForm": "Testing 429 after burst"}]},
        caller=True)
    t.assistant("2026-02-10T16:54:19.611Z", m, r, OPUS45, td, usage(3, 0, 14413, 131, cc1=377, style=S),
                stop="tool_use")
    t.result("2026-02-10T16:54:19.650Z", "last", td["id"],
             "Todos have been modified successfully. Ensure that you continue to use the todo list to track "
             "your progress. Please proceed with the current tasks if applicable",
             {"oldTodos": [], "newTodos": td["input"]["todos"]}, extra={"sourceToolAssistantUUID": t.last})
    m, r = ids.msg(), ids.req()
    t.assistant("2026-02-10T16:54:31.275Z", m, r, OPUS45,
                text("Config now has `ratelimit.rps` and `ratelimit.burst`. Next I'll pass them into the "
                     "limiter in `cmd/api/main.go` and add a test that the 41st request in a burst gets a 429."),
                usage(3, 0, 14790, 58, cc1=210, style=S), stop="end_turn")
    return t, agent, compact


def session7():
    t = Transcript(f"{HOMEP}/{S7}.jsonl", S7, "2.1.39", "/Users/alice", "", 109)
    t.user("2026-02-11T08:02:15.550Z",
           "<local-command-caveat>Caveat: The messages below were generated by the user while running "
           "local commands. DO NOT respond to these messages or otherwise consider them in your response "
           "unless the user explicitly asks you to.</local-command-caveat>", parent=None,
           extra={"isMeta": True})
    t.user("2026-02-11T08:02:15.549Z",
           "<command-name>/cost</command-name>\n            <command-message>cost</command-message>\n"
           "            <command-args></command-args>")
    t.user("2026-02-11T08:02:15.551Z",
           "<local-command-stdout>\u001b[2mTotal cost:            $0.0000\nTotal duration (API):  0s\n"
           "Total duration (wall): 6s\nTotal code changes:    0 lines added, 0 lines removed\n"
           "Usage:                 0 input, 0 output, 0 cache read, 0 cache write\u001b[22m</local-command-stdout>")
    t.user("2026-02-11T08:02:19.204Z",
           "<command-name>/exit</command-name>\n            <command-message>exit</command-message>\n"
           "            <command-args></command-args>")
    t.user("2026-02-11T08:02:19.205Z", "<local-command-stdout>Bye!</local-command-stdout>")
    return t


BAD = ROOT / "tests" / "fixtures" / "bad" / "projects" / "-Users-alice-src-scratch"


def bad_files():
    """Malformed inputs, one problem per file (see tests/fixtures/bad/README.md).

    Each file holds two good usage lines around the bad one, so a reader can
    check that it skips only the bad line."""
    ids = Ids(200)
    cwd = "/Users/alice/src/scratch"

    def line(stem, ts, kind, body_text, out_tokens):
        sid = stem
        if kind == "user":
            d = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": cwd,
                 "sessionId": sid, "version": "2.0.46", "gitBranch": "main", "type": "user",
                 "message": {"role": "user", "content": body_text}, "uuid": ids.uuid(), "timestamp": ts}
        else:
            d = {"parentUuid": ids.uuid(), "isSidechain": False, "userType": "external", "cwd": cwd,
                 "sessionId": sid, "version": "2.0.46", "gitBranch": "main",
                 "message": {"id": ids.msg(), "type": "message", "role": "assistant", "model": SONNET45,
                             "content": [text(body_text)], "stop_reason": "end_turn", "stop_sequence": None,
                             "usage": usage(3, 1000, 10000, out_tokens, style="2.0")},
                 "requestId": ids.req(), "type": "assistant", "uuid": ids.uuid(), "timestamp": ts}
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()

    def good(stem, n):
        return line(stem, f"2025-11-21T10:0{n}:00.000Z", "assistant", f"good line {n}", 100 * n)

    files = {}
    st = "non-json-line"
    files[st] = [good(st, 1), b"npm ERR! code ENOSPC: no space left on device, write", good(st, 2)]
    st = "invalid-utf8"
    bad = line(st, "2025-11-21T10:05:00.000Z", "assistant", "caf\u00e9 latin-1 bytes: XX", 77)
    bad = bad.replace(b"latin-1 bytes: XX", b"latin-1 bytes: caf\xe9 \xff\xfe")
    files[st] = [good(st, 1), bad, good(st, 2)]
    st = "nul-in-string"
    nul = line(st, "2025-11-21T10:05:00.000Z", "assistant", "binary output: \x00\x01 end", 55)
    files[st] = [good(st, 1), nul, good(st, 2)]
    st = "empty-line"
    files[st] = [good(st, 1), b"", good(st, 2)]
    st = "truncated-last-line"
    cut = line(st, "2025-11-21T10:05:00.000Z", "assistant", "this line was being written", 99)
    cut = cut[: cut.index(b'"cache_read_input_tokens"') + 12]
    files[st] = [good(st, 1), good(st, 2), cut]
    st = "unterminated-last-line"
    files[st] = [good(st, 1), good(st, 2)]

    if BAD.exists():
        shutil.rmtree(BAD)
    BAD.mkdir(parents=True)
    for stem, lines in files.items():
        data = b"\n".join(lines)
        if stem not in ("truncated-last-line", "unterminated-last-line"):
            data += b"\n"
        (BAD / f"{stem}.jsonl").write_bytes(data)


def main():
    bad_files()
    if OUT.exists():
        shutil.rmtree(OUT)
    s1 = session1()
    s5, agent, compact = session5()
    for t in (s1, session2(s1), session3(s1), session4(), s5, agent, compact, session6(), session7()):
        t.write()
    for p in sorted(OUT.rglob("*.jsonl")):
        print(p.relative_to(OUT.parent), sum(1 for _ in open(p, encoding="utf-8")))


if __name__ == "__main__":
    main()
