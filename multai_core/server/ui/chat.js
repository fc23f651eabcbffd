// The chat playground: a streamed /v1/chat/completions with the chosen model, system prompt,
// temperature, max tokens and priority; Markdown answers; Stop aborts the stream, which makes
// the server cancel the request; each answer shows its tokens and time to first token.
import { getJson, newRequestId, postJson, sseData } from "./api.js";
import { byId, el, formatSeconds, say } from "./dom.js";
import { render } from "./markdown.js";
import { fillModelSelect } from "./models.js";

const history = [];
let running = null; // { controller, requestId }

function addMessage(role, text) {
  const body = el("div", { class: "body" });
  const meta = el("p", { class: "meta" });
  const node = el("article", { class: `message ${role}`, "aria-label": role === "user" ? "You" : "Assistant" },
    el("h3", { class: "who", text: role === "user" ? "You" : "Assistant" }), body, meta);
  if (role === "user") body.append(el("p", { class: "plain", text }));
  byId("chat-log").append(node);
  node.scrollIntoView({ block: "end" });
  return { node, body, meta };
}

function settings() {
  const temperature = Number.parseFloat(byId("chat-temperature").value);
  const maxTokens = Number.parseInt(byId("chat-max-tokens").value, 10);
  return {
    model: byId("chat-model").value,
    system: byId("chat-system").value.trim(),
    temperature: Number.isFinite(temperature) ? temperature : undefined,
    max_tokens: Number.isFinite(maxTokens) && maxTokens > 0 ? maxTokens : undefined,
    priority: Number.parseInt(byId("chat-priority").value, 10),
  };
}

// While no token has come: where the request stands in the server's queue.
function followQueue(requestId, meta, isWaiting) {
  const timer = setInterval(async () => {
    if (!isWaiting()) return clearInterval(timer);
    try {
      const queue = await getJson("/v1/queue");
      const entry = queue.data.find((e) => e.id === requestId);
      if (!entry || !isWaiting()) return;
      meta.textContent =
        entry.status === "queued"
          ? `Queued at priority ${entry.priority}: position ${entry.position + 1}, waiting ${formatSeconds(entry.waited_s)}`
          : `Running (waited ${formatSeconds(entry.waited_s)}; the model may be loading)`;
    } catch {
      clearInterval(timer);
    }
  }, 500);
  return () => clearInterval(timer);
}

async function send(text) {
  const chosen = settings();
  if (!chosen.model) return say("No chat model is available to this key.", "error");
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const answer = addMessage("assistant", "");
  answer.node.setAttribute("aria-busy", "true");
  answer.meta.textContent = "Waiting…";
  const requestId = newRequestId("ui-chat");
  const controller = new AbortController();
  running = { controller, requestId };
  setRunning(true);
  const started = performance.now();
  let firstAt = 0;
  let content = "";
  let usage = null;
  let outcome = "done";
  let frame = 0;
  const draw = () => {
    frame = 0;
    answer.body.replaceChildren(render(content));
  };
  const stopFollowing = followQueue(requestId, answer.meta, () => !firstAt && running?.requestId === requestId);
  try {
    const messages = chosen.system ? [{ role: "system", content: chosen.system }, ...history] : [...history];
    const response = await postJson(
      "/v1/chat/completions",
      {
        model: chosen.model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        temperature: chosen.temperature,
        max_tokens: chosen.max_tokens,
        priority: chosen.priority,
      },
      { signal: controller.signal, headers: { "x-request-id": requestId } },
    );
    for await (const data of sseData(response)) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || "The server ended the answer with an error.");
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) {
        if (!firstAt) {
          firstAt = performance.now();
          answer.meta.textContent = "Answering…";
        }
        content += delta;
        if (!frame) frame = requestAnimationFrame(draw);
      }
    }
  } catch (error) {
    outcome = error.name === "AbortError" ? "stopped" : "failed";
    if (outcome === "failed") say(error.message, "error");
  } finally {
    stopFollowing();
    if (frame) cancelAnimationFrame(frame);
    draw();
    running = null;
    setRunning(false);
    answer.node.removeAttribute("aria-busy");
  }
  if (content) history.push({ role: "assistant", content });
  else history.pop(); // nothing came: the question is not part of the conversation
  answer.node.dataset.outcome = outcome;
  answer.meta.textContent = describe(outcome, started, firstAt, usage);
}

function describe(outcome, started, firstAt, usage) {
  const parts = [];
  if (outcome === "stopped") parts.push("Stopped");
  if (outcome === "failed") parts.push("Failed");
  if (usage) parts.push(`${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`);
  if (firstAt) {
    parts.push(`first token after ${((firstAt - started) / 1000).toFixed(2)} s`);
    const seconds = (performance.now() - firstAt) / 1000;
    if (usage && usage.completion_tokens > 1 && seconds > 0)
      parts.push(`${((usage.completion_tokens - 1) / seconds).toFixed(1)} tokens/s`);
  }
  return parts.join(" · ");
}

function setRunning(on) {
  byId("chat-send").disabled = on;
  byId("chat-stop").disabled = !on;
}

export function setUpChat() {
  // on a phone the settings fold away above the conversation
  if (matchMedia("(max-width: 720px)").matches) byId("chat-options").open = false;
  const form = byId("chat-form");
  const input = byId("chat-input");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || running) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  byId("chat-stop").addEventListener("click", () => {
    running?.controller.abort();
    input.focus();
  });
  byId("chat-clear").addEventListener("click", () => {
    running?.controller.abort();
    history.length = 0;
    byId("chat-log").replaceChildren();
    input.focus();
  });
}

export function refreshChatModels() {
  return fillModelSelect(byId("chat-model"), ["chat"]);
}
