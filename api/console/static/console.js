// Engram console: loads server-rendered fragments with the API key, and talks to the REST API for every write.
// No framework and no build step. The key lives in sessionStorage (this tab only) and goes out as a Bearer token.
"use strict";

const KEY_STORE = "engram.apiKey";
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

class AuthRequired extends Error {}

function apiKey() { return sessionStorage.getItem(KEY_STORE); }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { askForKey(key ? "That key was not accepted." : null); throw new AuthRequired(); }
  return response;
}

async function apiJson(path, options = {}) {
  const response = await api(path, options);
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(response, body));
  return { body, response };
}

function errorText(response, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return `${response.status}: ${detail}`;
  if (Array.isArray(detail)) return `${response.status}: ${detail.map((d) => `${(d.loc || []).join(".")} ${d.msg}`).join("; ")}`;
  return `${response.status} ${response.statusText}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function toast(text, kind = "info") {
  const box = $("#toast");
  box.textContent = text;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// ---- key prompt -------------------------------------------------------------------------------------

function askForKey(message) {
  $("#key-prompt").hidden = false;
  $("#view").hidden = true;
  const error = $("#key-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("#key-input").focus();
}

async function showWho() {
  try {
    const { body } = await apiJson("/console/_f/whoami");
    $("#who").textContent = `organization ${body.organization_id}${body.admin ? " (admin key)" : ""}`;
    $("#forget-key").hidden = !apiKey();
  } catch (err) { if (!(err instanceof AuthRequired)) console.warn(err); }
}

// ---- fragments --------------------------------------------------------------------------------------

async function loadInto(target, url) {
  try {
    const response = await api(url);
    const html = await response.text();
    if (!response.ok) {
      let detail = html;
      try { detail = errorText(response, JSON.parse(html)); } catch (_) { /* not JSON */ }
      target.replaceChildren(el("p", { class: "error", text: detail }));
      return false;
    }
    target.innerHTML = html;
    hydrate(target);
    return true;
  } catch (err) {
    if (!(err instanceof AuthRequired)) target.replaceChildren(el("p", { class: "error", text: String(err) }));
    return false;
  }
}

function hydrate(root) {
  for (const node of $$("[data-load]", root)) loadInto(node, node.dataset.load);
  for (const node of $$("[data-run-messages]", root)) loadRunMessages(node);
}

function fragmentUrl() {
  const path = location.pathname.replace(/^\/console/, "") || "/";
  return `/console/_f${path}${location.search}`;
}

async function boot() {
  $("#key-prompt").hidden = true;
  const view = $("#view");
  view.hidden = false;
  delete view.dataset.loaded;
  if (await loadInto(view, fragmentUrl())) {
    showWho();
    const page = $("#agent-page");
    if (page) initAgentPage(page.dataset.agentId);
  }
  view.dataset.loaded = location.pathname + location.search;  // tests and scripts wait on this
}

// ---- agents list: create and import -----------------------------------------------------------------

async function createAgent(form) {
  const data = new FormData(form);
  const blocks = [
    { label: "persona", value: data.get("persona") || "" },
    { label: "human", value: data.get("human") || "" },
  ];
  const tags = String(data.get("tags") || "").split(",").map((t) => t.trim()).filter(Boolean);
  const payload = { name: data.get("name"), memory_blocks: blocks, tags };
  if (data.get("model")) payload.model = data.get("model");
  const { body } = await apiJson("/v1/agents/", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
  });
  location.assign(`/console/agents/${body.id}`);
}

async function importAgent(form) {
  const data = new FormData(form);
  if (!data.get("override_model_handle")) data.delete("override_model_handle");
  const { body } = await apiJson("/v1/agents/import", { method: "POST", body: data });
  toast(`Imported ${body.agent_ids.length} agent(s)`);
  location.assign(`/console/agents/${body.agent_ids[0]}`);
}

// ---- agent page -------------------------------------------------------------------------------------

const agent = { id: null, oldest: null, byKey: new Map(), streaming: false };
const HISTORY_PAGE = Math.min(Math.max(Number(new URLSearchParams(location.search).get("history")) || 30, 1), 200);

function initAgentPage(agentId) {
  agent.id = agentId;
  agent.oldest = null;
  loadHistory(false);
  loadRestPanels();
}

function refreshPanel(selector, url) {
  const node = $(selector);
  if (node) return loadInto(node, url || node.dataset.load);
  return Promise.resolve(false);
}

function refreshAfterTurn() {
  refreshPanel("#context-panel");
  refreshPanel("#runs-panel");
  refreshPanel("#archival-panel");
  if (!$$("#blocks-panel form.dirty").length) refreshPanel("#blocks-panel");  // never drop a draft
  checkPendingApprovals();
}

async function exportAgent() {
  const response = await api(`/v1/agents/${agent.id}/export`);
  if (!response.ok) throw new Error(errorText(response, await response.json().catch(() => null)));
  const blob = await response.blob();
  const link = el("a", { href: URL.createObjectURL(blob), download: `${$("#agent-name").textContent || agent.id}.af` });
  document.body.append(link);
  link.click();
  link.remove();
}

async function deleteAgent() {
  const name = $("#agent-name").textContent;
  if (!confirm(`Delete agent "${name}" (${agent.id}) with its messages, runs and archival memory? This cannot be undone.`)) return;
  await apiJson(`/v1/agents/${agent.id}`, { method: "DELETE" });
  location.assign("/console/agents");
}

// Block edits send If-Match with the version the editor was opened at: the server writes with the same
// compare-and-set the memory tools use, and answers 409 when someone (the agent, a person) wrote meanwhile.
async function saveBlock(form) {
  const label = form.dataset.label;
  const value = $("textarea", form).value;
  const conflict = $(".conflict", form);
  const response = await api(`/v1/agents/${agent.id}/core-memory/blocks/${encodeURIComponent(label)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json", "If-Match": `"${form.dataset.version}"` },
    body: JSON.stringify({ value }),
  });
  const body = await response.json().catch(() => null);
  if (response.status === 409) return showConflict(form, label);
  if (!response.ok) throw new Error(errorText(response, body));
  form.dataset.version = versionOf(response) ?? String(Number(form.dataset.version) + 1);
  $(".block-actions .muted", form).textContent = `version ${form.dataset.version}`;
  form.classList.remove("dirty");
  conflict.hidden = true;
  toast(`Saved ${label}`);
  refreshPanel("#context-panel");
}

function versionOf(response) {
  const tag = response.headers.get("ETag");
  return tag ? tag.replace(/^W\//, "").replace(/"/g, "") : null;
}

async function showConflict(form, label) {
  const response = await api(`/v1/agents/${agent.id}/core-memory/blocks/${encodeURIComponent(label)}`);
  const current = await response.json();
  const version = versionOf(response);
  const box = $(".conflict", form);
  const keep = el("button", { type: "button", text: "Overwrite with my draft" });
  const take = el("button", { type: "button", class: "secondary", text: "Discard my draft, use theirs" });
  keep.addEventListener("click", () => { form.dataset.version = version; box.hidden = true; form.requestSubmit(); });
  take.addEventListener("click", () => {
    $("textarea", form).value = current.value;
    form.dataset.version = version;
    form.classList.remove("dirty");
    updateChars(form);
    box.hidden = true;
  });
  box.replaceChildren(
    el("p", { text: `Conflict: "${label}" was changed since you opened it (now version ${version}). Your draft is still in the editor; nothing was saved.` }),
    el("pre", { class: "theirs", text: current.value }),
    el("div", {}, keep, " ", take),
  );
  box.hidden = false;
}

function updateChars(form) {
  const area = $("textarea", form);
  const used = $(".used", form);
  if (!area || !used) return;
  used.textContent = area.value.length;
  used.classList.toggle("over", area.value.length > Number(area.dataset.limit));
}

// ---- chat: one renderer for history and for the live stream -----------------------------------------

function textOf(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p.text || "")).join("");
  return String(content.text || "");
}

function toolCallsOf(m) {
  if (Array.isArray(m.tool_calls) && m.tool_calls.length) return m.tool_calls;
  if (m.tool_call) return [m.tool_call];
  if (m.tool_calls && typeof m.tool_calls === "object") return [m.tool_calls];
  return [];
}

const KIND = {
  user_message: ["user", "You"],
  assistant_message: ["assistant", "Agent"],
  reasoning_message: ["reasoning", "Reasoning"],
  hidden_reasoning_message: ["reasoning", "Reasoning (hidden)"],
  tool_call_message: ["tool-call", "Tool call"],
  tool_return_message: ["tool-return", "Tool return"],
  approval_request_message: ["approval", "Approval requested"],
  approval_response_message: ["approval-response", "Approval"],
  system_message: ["system", "System"],
  error_message: ["error", "Error"],
  summary_message: ["system", "Summary"],
  event_message: ["system", "Event"],
};

function messageBox(container, m, key, prepend) {
  let box = agent.byKey.get(key);
  if (box && box.isConnected) return box;
  const [kind, title] = KIND[m.message_type] || ["system", m.message_type];
  box = el("div", { class: `msg ${kind}`, "data-type": m.message_type, "data-id": m.id || "" },
    el("div", { class: "msg-title", text: title }), el("div", { class: "msg-body" }));
  if (prepend) container.prepend(box); else container.append(box);
  agent.byKey.set(key, box);
  return box;
}

// `delta`: the chunk is a token delta to append (stream_tokens); otherwise it carries the whole message.
function renderMessage(container, m, { delta = false, prepend = false } = {}) {
  const type = m.message_type;
  if (!type || type === "ping" || type === "usage_statistics") return;
  if (type === "stop_reason") {
    if (m.stop_reason && m.stop_reason !== "end_turn") container.append(el("div", { class: "msg stop", text: `stopped: ${m.stop_reason}` }));
    return;
  }
  if (type === "system_message" && !container.dataset.showSystem) return;
  const key = `${m.otid || m.id}:${type}`;
  const box = messageBox(container, m, key, prepend);
  const body = $(".msg-body", box);
  if (type === "reasoning_message" || type === "hidden_reasoning_message") {
    const text = m.reasoning || m.hidden_reasoning || "";
    body.textContent = delta ? body.textContent + text : text;
  } else if (type === "tool_call_message" || type === "approval_request_message") {
    for (const call of toolCallsOf(m)) renderToolCall(body, call, delta);
    if (type === "approval_request_message") box.dataset.pending = "1";
  } else if (type === "tool_return_message") {
    const returns = Array.isArray(m.tool_returns) && m.tool_returns.length ? m.tool_returns : [m];
    body.replaceChildren(...returns.map((r) => el("div", { class: `ret ${r.status === "error" ? "failed" : "ok"}` },
      el("span", { class: "tool-name", text: `${r.name || m.name || ""} → ${r.status || ""}` }),
      el("pre", { text: String(r.tool_return ?? r.func_response ?? "") }))));
  } else if (type === "approval_response_message") {
    const approvals = m.approvals || [{ approve: m.approve, reason: m.reason, tool_call_id: m.approval_request_id }];
    body.textContent = approvals.map((a) => `${a.approve ? "approved" : "denied"}${a.reason ? `: ${a.reason}` : ""}`).join("; ");
  } else if (type === "error_message") {
    body.textContent = m.message || m.detail || JSON.stringify(m);
  } else {
    const text = textOf(m.content);
    body.textContent = delta ? body.textContent + text : text;
  }
  if (!prepend) container.scrollTop = container.scrollHeight;
}

function renderToolCall(body, call, delta) {
  const id = call.tool_call_id || call.id || "call";
  let row = $(`[data-call="${CSS.escape(id)}"]`, body);
  if (!row) {
    row = el("div", { class: "call", "data-call": id }, el("span", { class: "tool-name" }), el("pre", { class: "args" }));
    body.append(row);
  }
  if (call.name) $(".tool-name", row).textContent = call.name;
  const args = call.arguments || "";
  $(".args", row).textContent = delta ? $(".args", row).textContent + args : args;
}

async function loadHistory(older) {
  const container = $("#messages");
  const params = new URLSearchParams({ limit: String(HISTORY_PAGE), order: "desc" });
  if (older && agent.oldest) params.set("after", agent.oldest);
  try {
    const { body } = await apiJson(`/v1/agents/${agent.id}/messages?${params}`);
    if (!older) { container.replaceChildren(); agent.byKey.clear(); }
    // newest first: prepend one by one so the oldest ends on top
    for (const m of body) renderMessage(container, m, { prepend: true });
    if (body.length) agent.oldest = body[body.length - 1].id;
    $("#older-messages").hidden = body.length < HISTORY_PAGE;
    if (!older) { container.scrollTop = container.scrollHeight; showPending(body); }
  } catch (err) { if (!(err instanceof AuthRequired)) toast(String(err), "error"); }
}

async function checkPendingApprovals() {
  try {
    const { body } = await apiJson(`/v1/agents/${agent.id}/messages?limit=30&order=desc`);
    showPending(body);
  } catch (err) { if (!(err instanceof AuthRequired)) console.warn(err); }
}

// A tool call waits for approval when an approval request names it and no return or approval answers it.
function showPending(newestFirst) {
  const answered = new Set();
  const pending = [];
  for (const m of newestFirst) {
    if (m.message_type === "tool_return_message") answered.add(m.tool_call_id);
    if (m.message_type === "approval_response_message") for (const a of m.approvals || []) answered.add(a.tool_call_id);
    if (m.message_type === "approval_request_message") {
      for (const call of toolCallsOf(m)) if (!answered.has(call.tool_call_id)) pending.push({ message: m, call });
    }
  }
  const box = $("#approvals");
  box.hidden = !pending.length;
  box.replaceChildren(...pending.map(({ call }) => {
    const reason = el("input", { type: "text", class: "reason", placeholder: "Reason (optional)" });
    const approve = el("button", { type: "button", class: "approve", text: "Approve" });
    const deny = el("button", { type: "button", class: "danger deny", text: "Deny" });
    approve.addEventListener("click", () => answerApproval(call.tool_call_id, true, reason.value));
    deny.addEventListener("click", () => answerApproval(call.tool_call_id, false, reason.value));
    return el("div", { class: "pending", "data-tool-call-id": call.tool_call_id },
      el("b", { text: `Pending approval: ${call.name}` }), el("pre", { text: call.arguments || "" }),
      el("div", {}, approve, " ", deny, " ", reason));
  }));
}

async function answerApproval(toolCallId, approve, reason) {
  $("#approvals").hidden = true;
  const approval = { type: "approval", tool_call_id: toolCallId, approve };
  if (reason) approval.reason = reason;
  await streamTurn({ messages: [{ type: "approval", approvals: [approval] }], stream_tokens: true });
}

async function sendMessage(form) {
  const area = $("textarea", form);
  const text = area.value.trim();
  if (!text || agent.streaming) return;
  area.value = "";
  renderMessage($("#messages"), { message_type: "user_message", id: `local-${Date.now()}`, content: text });
  await streamTurn({ messages: [{ role: "user", content: text }], stream_tokens: true });
}

// POST .../messages/stream answers Letta's SSE framing: `data: <json>` per chunk, `event: error` for a fatal
// error, `data: [DONE]` last. EventSource cannot POST or send headers, so the body is read by hand.
async function streamTurn(payload) {
  const container = $("#messages");
  const status = $("#chat-status");
  agent.streaming = true;
  $("#send-form button").disabled = true;
  status.textContent = "streaming…";
  try {
    const response = await api(`/v1/agents/${agent.id}/messages/stream`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(payload),
    });
    if (!response.ok) throw new Error(errorText(response, await response.json().catch(() => null)));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let stop = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const chunk = parseFrame(frame);
        if (!chunk || chunk.done) continue;
        if (chunk.event === "error") { renderMessage(container, { message_type: "error_message", ...chunk.data }); continue; }
        if (chunk.data.message_type === "stop_reason") stop = chunk.data.stop_reason;
        renderMessage(container, chunk.data, { delta: payload.stream_tokens === true });
      }
    }
    status.textContent = stop ? `done (${stop})` : "done";
  } catch (err) {
    if (!(err instanceof AuthRequired)) { status.textContent = ""; renderMessage(container, { message_type: "error_message", id: `err-${Date.now()}`, message: String(err.message || err) }); }
  } finally {
    agent.streaming = false;
    $("#send-form button").disabled = false;
    refreshAfterTurn();
  }
}

function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return null;
  const text = data.join("\n");
  if (text === "[DONE]") return { done: true };
  try { return { event, data: JSON.parse(text) }; } catch (_) { return null; }
}

async function loadRunMessages(node) {
  try {
    const { body } = await apiJson(`/v1/runs/${node.dataset.runMessages}/messages?limit=200`);
    node.replaceChildren();
    for (const m of body) renderMessage(node, m);
    if (!body.length) node.append(el("p", { class: "muted", text: "No messages." }));
  } catch (err) { if (!(err instanceof AuthRequired)) node.replaceChildren(el("p", { class: "error", text: String(err) })); }
}

// ---- panels read from REST resources other engineers own: show them when the server has them ----------

async function loadRestPanels() {
  const folders = $("#folders-panel");
  const schedule = $("#schedule-panel");
  const sleeptime = $("#sleeptime-panel");
  const page = $("#agent-page");
  if (sleeptime) restPanel(sleeptime, "Sleep-time", `/v1/agents/${agent.id}/sleeptime`, (body) => {
    if (!body.enabled) return [el("p", { class: "muted", text: "Sleep-time consolidation is off for this agent." })];
    const facts = [
      el("div", {}, "Sleep-time agent ", body.sleeptime_agent_id
        ? el("a", { href: `/console/agents/${body.sleeptime_agent_id}`, class: "mono", text: body.sleeptime_agent_id }) : "-"),
      el("div", { class: "small", text: `every ${body.sleeptime_agent_frequency || "-"} turns · ${body.turns_counter} since the last run` }),
    ];
    const sched = body.schedule;
    if (sched) {
      const every = sched.cron ? `cron ${sched.cron}` : `every ${sched.interval_seconds} s`;
      const link = page && page.dataset.temporalUi
        ? el("a", { href: `${page.dataset.temporalUi}/namespaces/${page.dataset.namespace}/schedules/${encodeURIComponent(sched.schedule_id)}`, target: "_blank", rel: "noopener", text: "schedule ↗" })
        : null;
      facts.push(el("div", {}, `Schedule: ${every}${sched.paused ? " (paused)" : ""} `, link));
      const next = ((sched.temporal || {}).next_action_times || []);
      facts.push(el("div", { class: "small next-fire", text: next.length ? `next: ${next.slice(0, 3).join(", ")}` : "next: -" }));
    }
    return facts;
  }, "Sleep-time settings");
  if (folders) restPanel(folders, "Folders", `/v1/agents/${agent.id}/folders`, (body) => {
    const list = Array.isArray(body) ? body : body.items || body.data || [];
    if (!list.length) return [el("p", { class: "muted", text: "No folders attached." })];
    return [el("ul", {}, ...list.map((f) => el("li", {}, el("b", { text: f.name || f.id }), " ", el("span", { class: "muted small mono", text: f.id }))))];
  });
  if (schedule) restPanel(schedule, "Schedule", `/v1/agents/${agent.id}/schedule`, (body) => {
    const list = body.scheduled_messages || [];
    if (!list.length) return [el("p", { class: "muted", text: "Nothing scheduled." })];
    return [el("ul", {}, ...list.map((s) => {
      const when = s.schedule.type === "recurring" ? `cron ${s.schedule.cron_expression}` : `once at ${new Date(s.schedule.scheduled_at * (s.schedule.scheduled_at < 1e12 ? 1000 : 1)).toISOString()}`;
      const first = ((s.message || {}).messages || [])[0] || {};
      return el("li", { "data-scheduled-id": s.id }, el("div", { text: `${when}${s.paused ? " (paused)" : ""}` }),
        el("div", { class: "small muted next-fire", text: `next: ${s.next_scheduled_time || "-"}` }),
        el("div", { class: "small", text: textOf(first.content) }));
    }))];
  }, "Scheduled messages");
}

async function restPanel(node, title, url, render, missing = title) {
  try {
    const response = await api(url);
    const body = await response.json().catch(() => null);
    let content;
    if (response.status === 404 && body && body.detail === "Not Found") content = [el("p", { class: "muted small", text: `${missing} are not available on this server.` })];
    else if (!response.ok) content = [el("p", { class: "error", text: errorText(response, body) })];
    else content = render(body);
    node.replaceChildren(el("h2", { text: title }), ...content);
  } catch (err) { if (!(err instanceof AuthRequired)) node.replaceChildren(el("h2", { text: title }), el("p", { class: "error", text: String(err) })); }
}

// ---- wiring -----------------------------------------------------------------------------------------

const ACTIONS = {
  "create-agent": createAgent,
  "import-agent": importAgent,
  "save-block": saveBlock,
  "send-message": sendMessage,
  "archival-search": (form) => refreshPanel("#archival-panel", `/console/_f/agents/${agent.id}/archival?q=${encodeURIComponent(new FormData(form).get("q") || "")}`),
};

const BUTTONS = { "export-agent": exportAgent, "delete-agent": deleteAgent };

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.id === "key-form") {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("#key-input").value.trim());
    boot();
    return;
  }
  const action = ACTIONS[form.dataset.action];
  if (!action) return;
  event.preventDefault();
  const buttons = $$("button[type=submit]", form);
  buttons.forEach((b) => { b.disabled = true; });
  try { await action(form); } catch (err) { if (!(err instanceof AuthRequired)) toast(String(err.message || err), "error"); } finally { buttons.forEach((b) => { b.disabled = false; }); }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.id === "forget-key") { sessionStorage.removeItem(KEY_STORE); location.reload(); return; }
  if (button.id === "older-messages") { loadHistory(true); return; }
  if (button.dataset.loadInto) { refreshPanel(button.dataset.loadInto, button.dataset.url); return; }
  const action = BUTTONS[button.dataset.action];
  if (!action) return;
  try { await action(button); } catch (err) { if (!(err instanceof AuthRequired)) toast(String(err.message || err), "error"); }
});

document.addEventListener("input", (event) => {
  const form = event.target.closest("form.block");
  if (form) { form.classList.add("dirty"); updateChars(form); }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && event.target.matches("#send-form textarea")) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
});

document.addEventListener("DOMContentLoaded", boot);
