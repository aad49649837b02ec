// A real ACP client for kaiwa's tests: the protocol's TypeScript SDK (`client()`), driving `chat.py acp` over its
// stdio. argv[2]: JSON {command: [...], cwd, repo, git}. Prints one JSON line of what it saw; the test checks it,
// git and the store. Every line the agent wrote on stdout is kept in `stdout` (it must all be JSON-RPC).
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { client, ndJsonStream } from "@agentclientprotocol/sdk";

const config = JSON.parse(process.argv[2]);
const agent = spawn(config.command[0], config.command.slice(1), {
  cwd: config.cwd,
  env: process.env,
  stdio: ["pipe", "pipe", "inherit"],
});
const stdout = [];
let pending = "";
const input = new ReadableStream({
  start(controller) {
    agent.stdout.on("data", (chunk) => {
      pending += chunk.toString("utf8");
      let cut;
      while ((cut = pending.indexOf("\n")) >= 0) {
        stdout.push(pending.slice(0, cut));
        pending = pending.slice(cut + 1);
      }
      try {
        controller.enqueue(new Uint8Array(chunk));
      } catch {} // the client has let go of the stream: the lines are still kept
    });
    agent.stdout.on("end", () => {
      try {
        controller.close();
      } catch {}
    });
  },
});

const updates = [];
const answers = [];
const asked = [];

const app = client()
  .onRequest("session/request_permission", async ({ params }) => {
    asked.push({ kinds: params.options.map((o) => o.kind).sort(), title: params.toolCall.title });
    const optionId = answers.shift();
    return { outcome: { outcome: "selected", optionId } };
  })
  .onNotification("session/update", ({ params }) => {
    updates.push(params.update);
  });

const text = () =>
  updates
    .filter((u) => u.sessionUpdate === "agent_message_chunk")
    .map((u) => u.content.text)
    .join("");

const result = await app.connectWith(ndJsonStream(Writable.toWeb(agent.stdin), input), async (ctx) => {
  const out = {};
  const init = await ctx.request("initialize", { protocolVersion: 1, clientCapabilities: {} });
  out.protocolVersion = init.protocolVersion;
  out.loadSession = init.agentCapabilities.loadSession;
  const git = { name: "git", command: config.git, args: ["--repository", config.repo], env: [] };
  const { sessionId } = await ctx.request("session/new", { cwd: config.cwd, mcpServers: [git] });
  out.sessionId = sessionId;
  const say = (words) =>
    ctx.request("session/prompt", { sessionId, prompt: [{ type: "text", text: words }] });
  out.stops = [];
  for (const words of ["hello from node", "and again"]) out.stops.push((await say(words)).stopReason);
  out.twoAnswers = text();
  answers.push("reject_once");
  out.stops.push((await say("stage a.txt")).stopReason);
  out.asked = asked.slice();
  answers.push("allow_once");
  out.stops.push((await say("stage it now")).stopReason);
  const before = updates.length;
  let seen;
  const started = new Promise((resolve) => (seen = resolve));
  const watch = setInterval(() => {
    if (updates.slice(before).some((u) => u.sessionUpdate === "agent_message_chunk")) seen();
  }, 20);
  const slow = say("tell me slowly");
  await started;
  clearInterval(watch);
  await ctx.notify("session/cancel", { sessionId });
  out.stops.push((await slow).stopReason);
  try {
    await say("this one fails");
    out.failure = null;
  } catch (error) {
    out.failure = { code: error.code, message: error.message };
  }
  return out;
});
agent.stdin.end();
await new Promise((resolve) => agent.on("exit", resolve));
result.exitCode = agent.exitCode;
result.stdout = stdout;
process.stdout.write(JSON.stringify(result) + "\n");
