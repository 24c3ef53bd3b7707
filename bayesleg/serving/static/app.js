// The bayesleg explorer: answers findings and factors, and shows what the service's
// JSON API makes of them.  It calls only this origin's /v1/ routes.
"use strict";

const SHOWN_CAUSES = 8;
const QUESTIONS = 5;
const LEVELS = {
  self_care: "Self-care",
  see_doctor: "See a doctor",
  urgent: "Seek care now",
};
const GROUPS = [
  { kind: "symptom", title: "What you notice", note: "Findings: the symptoms after exercise." },
  { kind: "factor", title: "The session and you", note: "Factors: training, habits and health." },
];

const state = {
  model: null, // GET /v1/model
  nodes: new Map(), // id -> node
  links: new Map(), // "a|b" (sorted) -> [parameter with its node]
  showAll: false,
  chosen: null, // the cause explained, when the reader chose one
  generation: 0,
  diagnosis: null,
  notice: "", // what the link held that this model lacks
};

// ---------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------

async function call(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  // Every answer of the service is JSON; a proxy or an overloaded server may say otherwise.
  const answer = await response.json().catch(() => null);
  if (!response.ok || answer === null) {
    const message = answer && answer.error ? answer.error.message : `${response.status} ${response.statusText}`;
    throw new Error(`${path}: ${message}`);
  }
  return answer;
}

// ---------------------------------------------------------------------------
// Small DOM helpers: text goes in as text, never as markup
// ---------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function ratio(lr) {
  if (lr === null) return "×∞";
  return `×${lr >= 100 ? lr.toFixed(0) : lr.toPrecision(3)}`;
}

// A share of log odds to two decimals, signed unless it rounds to zero.
function signed(x) {
  // JSON has no infinity: the service sends null, and the explanation's notes say why.
  if (x === null || x === undefined || !Number.isFinite(x)) return "infinite";
  const shown = Math.abs(x).toFixed(2);
  if (shown === "0.00") return shown;
  return `${x > 0 ? "+" : "−"}${shown}`;
}

function answerWord(stateName) {
  return stateName === "present" ? "yes" : "no";
}

let tipCount = 0;

// A number (or a few) whose sources show on hover or focus, and are its description.
function sourced(content, passages, label) {
  const id = `tip-${++tipCount}`;
  const tip = el("span", { class: "tip", role: "tooltip", id });
  if (label) tip.append(el("span", { class: "tip-title", text: label }));
  if (passages.length === 0) {
    tip.append(el("span", { class: "tip-line", text: "No passage sets this number directly." }));
  }
  for (const passage of passages) {
    const line = el("span", { class: "tip-line" });
    line.append(el("span", { class: "tip-what", text: passage.what }));
    if (passage.source) {
      line.append(el("q", { text: passage.source.quote }));
      line.append(el("cite", { text: passage.source.file }));
    }
    if (passage.note) line.append(el("span", { class: "tip-note", text: passage.note }));
    tip.append(line);
  }
  return el("span", { class: "sourced", tabindex: "0", "aria-describedby": id }, content, tip);
}

// ---------------------------------------------------------------------------
// Where numbers come from: the model's parameters, indexed by the pair of nodes they link
// ---------------------------------------------------------------------------

function linkKey(a, b) {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function indexLinks(model) {
  for (const node of model.nodes) {
    for (const parameter of node.parameters || []) {
      const [kind, key] = parameter.field.split(".");
      if (kind !== "parents" && kind !== "prevented_by") continue;
      for (const parent of key.split("+")) {
        const k = linkKey(parent, node.id);
        if (!state.links.has(k)) state.links.set(k, []);
        state.links.get(k).push({ parameter, child: node.id, members: key.split("+"), kind });
      }
    }
  }
}

function label(id) {
  const node = state.nodes.get(id);
  return node ? node.label : id;
}

function describeLink(link) {
  const p = link.parameter.p;
  const parents = link.members.map(label).join(" and ");
  if (link.kind === "prevented_by") {
    return `${parents} prevents ${label(link.child)}: p ${p} (${link.parameter.verbal})`;
  }
  return `${parents} → ${label(link.child)}: weight ${p} (${link.parameter.verbal})`;
}

function linkPassages(a, b) {
  return (state.links.get(linkKey(a, b)) || []).map((link) => ({
    what: describeLink(link),
    source: link.parameter.source,
  }));
}

function ownPassages(id, fields) {
  const node = state.nodes.get(id);
  return (node.parameters || [])
    .filter((parameter) => fields.includes(parameter.field))
    .map((parameter) => ({
      what: `${parameter.field === "prior" ? "Prior" : "Base rate"} of ${node.label}: ${parameter.p} (${parameter.verbal})`,
      source: parameter.source,
      note: parameter.note,
    }));
}

function causePassages(cause, evidence) {
  const passages = ownPassages(cause, ["leak"]);
  for (const id of Object.keys(evidence)) passages.push(...linkPassages(id, cause));
  return passages;
}

// ---------------------------------------------------------------------------
// The answers
// ---------------------------------------------------------------------------

function buildForm(model) {
  const groups = document.getElementById("groups");
  groups.replaceChildren();
  for (const group of GROUPS) {
    const nodes = model.nodes.filter((node) => node.kind === group.kind);
    const fieldset = el("fieldset", { class: "group" });
    fieldset.append(el("legend", { text: `${group.title} (${nodes.length})` }));
    fieldset.append(el("p", { class: "note", text: group.note }));
    for (const node of nodes) fieldset.append(buildQuestion(node));
    groups.append(fieldset);
  }
}

function buildQuestion(node) {
  const hint = node.description ? `hint-${node.id}` : null;
  const fieldset = el("fieldset", {
    class: "question",
    id: `q-${node.id}`,
    "data-id": node.id,
    "aria-describedby": hint,
  });
  fieldset.append(el("legend", { text: node.label }));
  const choices = el("div", { class: "choices" });
  for (const [value, text] of [["yes", "Yes"], ["no", "No"], ["unknown", "Unknown"]]) {
    const id = `${node.id}-${value}`;
    const input = el("input", {
      type: "radio",
      name: node.id,
      id,
      value,
      checked: value === "unknown",
    });
    choices.append(input, el("label", { for: id, text }));
  }
  fieldset.append(choices);
  if (hint) fieldset.append(el("p", { class: "hint", id: hint, text: node.description }));
  return fieldset;
}

function currentEvidence() {
  const evidence = {};
  for (const input of document.querySelectorAll("#groups input[type=radio]:checked")) {
    if (input.value !== "unknown") evidence[input.name] = input.value === "yes";
  }
  return evidence;
}

function setAnswer(id, value) {
  const input = document.getElementById(`${id}-${value}`);
  if (input) input.checked = true;
}

// ---------------------------------------------------------------------------
// The link: #yes=a,b&no=c&explain=d
// ---------------------------------------------------------------------------

function fragmentOf(evidence) {
  const yes = Object.keys(evidence).filter((id) => evidence[id]);
  const no = Object.keys(evidence).filter((id) => !evidence[id]);
  const parts = [];
  if (yes.length) parts.push(`yes=${yes.join(",")}`);
  if (no.length) parts.push(`no=${no.join(",")}`);
  if (state.chosen) parts.push(`explain=${state.chosen}`);
  return parts.length ? `#${parts.join("&")}` : "";
}

function restoreFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  for (const input of document.querySelectorAll("#groups input[value=unknown]")) {
    input.checked = true;
  }
  const ignored = [];
  for (const [value, key] of [["yes", "yes"], ["no", "no"]]) {
    for (const id of (params.get(key) || "").split(",").filter(Boolean)) {
      if (document.getElementById(`${id}-${value}`)) setAnswer(id, value);
      else ignored.push(id);
    }
  }
  const cause = params.get("explain");
  const known = state.model.nodes.some((n) => n.kind === "condition" && n.id === cause);
  state.chosen = known ? cause : null;
  if (cause && !known) ignored.push(cause);
  state.notice = ignored.length ? `The link names ids this model does not have: ${ignored.join(", ")}.` : "";
}

function writeFragment(evidence) {
  const fragment = fragmentOf(evidence);
  const url = `${location.pathname}${location.search}${fragment}`;
  if (`${location.pathname}${location.search}${location.hash}` !== url) {
    history.replaceState(null, "", url);
  }
  document.getElementById("share").href = `${location.origin}${url}`;
}

// ---------------------------------------------------------------------------
// Rendering the answers of the API
// ---------------------------------------------------------------------------

function renderTriage(diagnosis) {
  const triage = diagnosis.triage;
  const box = document.getElementById("triage");
  const level = el("p", { class: `level level-${triage.level}`, id: "triage-level" });
  level.append(el("span", { class: "level-name", text: LEVELS[triage.level] || triage.level }));
  const reasons = el("ul", { class: "reasons", id: "triage-reasons" });
  for (const reason of triage.reasons) {
    reasons.append(el("li", {}, sourced(el("span", { class: "reason-text", text: reason.text }),
      reasonPassages(reason, diagnosis.evidence), "Where this comes from")));
  }
  if (triage.reasons.length === 0) {
    reasons.append(el("li", { class: "none", text: "No red flag, and no cause likely enough to raise it." }));
  }
  box.replaceChildren(level, reasons);
}

function reasonPassages(reason, evidence) {
  if (reason.kind === "red_flag") {
    const flag = state.model.red_flags.find((f) => f.id === reason.id);
    return flag ? [{ what: `Red flag: ${flag.label}`, source: flag.source }] : [];
  }
  const node = state.nodes.get(reason.id);
  const specific = (node.findings || []).some((f) => evidence[f] === "present");
  const threshold = specific && state.model.thresholds.finding
    ? state.model.thresholds.finding : state.model.thresholds.condition;
  const passages = [{
    what: `Threshold ${threshold.p}${specific ? ", with a finding specific to it" : ""}`,
    source: threshold.source,
  }];
  const advice = state.diagnosis && state.diagnosis.advice.find((a) => a.condition === reason.id);
  if (advice) passages.push({ what: `Care level: ${LEVELS[advice.care]}`, source: advice.source });
  return passages;
}

function renderDifferential(diagnosis) {
  const list = document.getElementById("differential");
  const shown = state.showAll ? diagnosis.ranked : diagnosis.ranked.slice(0, SHOWN_CAUSES);
  list.replaceChildren(...shown.map((cause) => causeItem(cause, diagnosis.evidence)));
  const button = document.getElementById("show-all");
  button.textContent = state.showAll ? `Show the top ${SHOWN_CAUSES}` : `Show all ${diagnosis.ranked.length} causes`;
  button.setAttribute("aria-expanded", String(state.showAll));
  button.hidden = diagnosis.ranked.length <= SHOWN_CAUSES;
  const top = diagnosis.ranked.slice(0, 3).map((c) => `${c.label} ${percent(c.posterior)}`);
  document.getElementById("differential-summary").textContent =
    `Most likely: ${top.join("; ")}. Triage: ${LEVELS[diagnosis.triage.level]}.`;
  const leader = diagnosis.ranked[0];
  document.getElementById("summary-bar").replaceChildren(
    el("span", { class: "summary-text", text: `${LEVELS[diagnosis.triage.level]} · ${leader.label} ${percent(leader.posterior)}` }),
    el("span", { class: "arrow", "aria-hidden": "true", text: "Results ↓" }));
}

function causeItem(cause, evidence) {
  const item = el("li", { class: "cause", "data-id": cause.id });
  const head = el("div", { class: "cause-head" });
  head.append(el("span", { class: "cause-label", text: cause.label }));
  const explain = el("button", {
    type: "button",
    class: "quiet small",
    "aria-label": `Explain ${cause.label}`,
    text: "Explain",
  });
  explain.addEventListener("click", () => chooseCause(cause.id, true));
  head.append(explain);
  const bars = el("div", { class: "bars", "aria-hidden": "true" });
  for (const [kind, p] of [["prior", cause.prior], ["posterior", cause.posterior]]) {
    const bar = el("span", { class: `bar ${kind}` });
    bar.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    bars.append(el("span", { class: "track" }, bar));
  }
  const figures = el("span", { class: "figures" });
  figures.append(
    el("span", { class: "posterior" }, "posterior ", el("b", { class: "value", text: percent(cause.posterior) })),
    el("span", { class: "prior" }, "prior ", el("span", { class: "value", text: percent(cause.prior) })),
    el("span", { class: "lr", title: "likelihood ratio: posterior odds over prior odds" },
      "likelihood ratio ", el("span", { class: "value", text: ratio(cause.likelihood_ratio) })),
  );
  item.append(head, bars,
    sourced(figures, causePassages(cause.id, evidence), `Sources of ${cause.label}'s numbers`));
  return item;
}

function renderQuestions(answer) {
  const list = document.getElementById("questions");
  const top = answer.top_cause;
  list.replaceChildren(...answer.questions.map((question) => {
    const item = el("li", { class: "question-item", "data-id": question.id });
    const go = el("button", { type: "button", class: "link ask", text: question.label });
    go.addEventListener("click", () => focusQuestion(question.id));
    const passages = linkPassages(question.id, top);
    if (passages.length === 0) passages.push(...ownPassages(question.id, ["prior", "leak"]));
    const figures = el("span", { class: "figures" },
      el("span", { text: `gain ${question.expected_gain.toFixed(2)} bits` }),
      el("span", { text: `P(yes) ${percent(question.p_yes)}` }),
      el("span", { text: `${label(top)}: ${percent(question.top_if_yes)} if yes, ${percent(question.top_if_no)} if no` }));
    const answers = el("span", { class: "answer-buttons" });
    for (const [value, text] of [["yes", "Yes"], ["no", "No"]]) {
      const button = el("button", {
        type: "button",
        class: "small",
        "data-answer": value,
        "aria-label": `${question.label}: ${text}`,
        text,
      });
      button.addEventListener("click", () => {
        setAnswer(question.id, value);
        update();
      });
      answers.append(button);
    }
    item.append(go, answers, sourced(figures, passages, "Sources"));
    return item;
  }));
  if (answer.questions.length === 0) {
    list.append(el("li", { class: "none", text: "Nothing left to ask." }));
  }
}

function focusQuestion(id) {
  const fieldset = document.getElementById(`q-${id}`);
  if (!fieldset) return;
  for (const old of document.querySelectorAll(".question.highlight")) old.classList.remove("highlight");
  fieldset.classList.add("highlight");
  fieldset.scrollIntoView({ block: "center" });
  const checked = fieldset.querySelector("input:checked") || fieldset.querySelector("input");
  checked.focus({ preventScroll: true });
}

function renderExplanation(explanation) {
  const box = document.getElementById("explanation");
  const summary = el("p", { class: "explained", id: "explained" });
  summary.append(
    el("strong", { text: explanation.label }), ": ",
    sourced(el("span", { text: `${percent(explanation.baseline)} with nothing observed` }),
      ownPassages(explanation.cause, ["leak"]), "Base rate"),
    " → ",
    sourced(el("span", { text: `${percent(explanation.posterior)} with your answers` }),
      causePassages(explanation.cause, explanation.evidence), "Base rate and links to your answers"),
    ".",
  );
  const shares = el("ul", { class: "shares" });
  const finite = explanation.contributions.filter((c) => c.log_likelihood_ratio !== null);
  const largest = Math.max(1e-9, ...finite.map((c) => Math.abs(c.log_likelihood_ratio)));
  for (const c of explanation.contributions) {
    const row = el("li", { class: c.log_likelihood_ratio >= 0 ? "for" : "against", "data-id": c.id });
    const bar = el("span", { class: "share-bar" });
    const size = c.log_likelihood_ratio === null ? largest : Math.abs(c.log_likelihood_ratio);
    bar.style.width = `${(50 * size) / largest}%`;
    const passages = linkPassages(c.id, explanation.cause);
    if (passages.length === 0) {
      passages.push({ what: "No direct link in the model: it moves this cause through the causes it shares with it." });
    }
    row.append(
      el("span", { class: "share-label", text: `${c.label}: ${answerWord(c.state)}` }),
      el("span", { class: "share-track", "aria-hidden": "true" }, bar),
      sourced(el("span", { class: "share-value", text: signed(c.log_likelihood_ratio) }), passages, "Link in the model"),
    );
    shares.append(row);
  }
  const parts = [summary];
  if (explanation.contributions.length) {
    parts.push(el("p", { class: "note", text:
      `Each answer's share of the change in log odds (${explanation.log_posterior_odds === null || explanation.log_baseline_odds === null ? "infinite" : signed(explanation.log_posterior_odds - explanation.log_baseline_odds)} in all; ${explanation.method} Shapley values):` }));
    parts.push(shares);
    for (const note of explanation.notes || []) parts.push(el("p", { class: "note", text: note }));
  } else {
    parts.push(el("p", { class: "note", text: "Nothing is answered yet: this is the base rate." }));
  }
  if (explanation.would_lower.length) {
    parts.push(el("p", { class: "note", text: "Would lower it most, if answered:" }));
    parts.push(el("ul", { class: "lowering" }, ...explanation.would_lower.map((f) => {
      const passages = linkPassages(f.id, explanation.cause);
      if (passages.length === 0) {
        passages.push({ what: "No direct link in the model: it moves this cause through the causes it shares with it." });
      }
      return el("li", {}, sourced(el("span", { text: `${f.label}: ${answerWord(f.state)} → ${percent(f.posterior)}` }),
        passages, "Link in the model"));
    })));
  }
  box.replaceChildren(...parts);
  box.dataset.cause = explanation.cause;
}

function renderAdvice(diagnosis) {
  const list = document.getElementById("advice");
  list.replaceChildren(...diagnosis.advice.map((advice) => el("li", { "data-id": advice.condition },
    el("p", {}, el("strong", { text: `${advice.label} ` }),
      el("span", { class: `care care-${advice.care}`, text: LEVELS[advice.care] || advice.care })),
    el("p", { text: advice.text }),
    el("blockquote", {}, el("p", { text: advice.source.quote }),
      el("footer", {}, el("cite", { text: advice.source.file }))))));
}

function renderCauseChoice(diagnosis) {
  const select = document.getElementById("cause");
  const current = state.chosen || diagnosis.ranked[0].id;
  select.replaceChildren(...diagnosis.ranked.map((cause) =>
    el("option", { value: cause.id, selected: cause.id === current, text: `${cause.label} (${percent(cause.posterior)})` })));
  select.value = current;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

// ---------------------------------------------------------------------------
// Updating on every answer
// ---------------------------------------------------------------------------

async function update() {
  const evidence = currentEvidence();
  const generation = ++state.generation;
  const results = document.getElementById("results");
  results.setAttribute("aria-busy", "true");
  writeFragment(evidence);
  try {
    const [diagnosis, questions] = await Promise.all([
      call("/v1/diagnose", { evidence }),
      call("/v1/next-questions", { evidence, k: QUESTIONS }),
    ]);
    if (generation !== state.generation) return;
    state.diagnosis = diagnosis;
    renderTriage(diagnosis);
    renderDifferential(diagnosis);
    renderQuestions(questions);
    renderAdvice(diagnosis);
    renderCauseChoice(diagnosis);
    await explain(evidence, generation);
    if (generation !== state.generation) return;
    showError(state.notice);
    results.dataset.evidence = fragmentOf(evidence);
    results.setAttribute("aria-busy", "false");
  } catch (error) {
    if (generation !== state.generation) return;
    showError(String(error.message || error));
    results.setAttribute("aria-busy", "false");
  }
}

async function explain(evidence, generation) {
  const cause = state.chosen || state.diagnosis.ranked[0].id;
  const explanation = await call("/v1/explain", { evidence, cause });
  if (generation !== state.generation) return;
  renderExplanation(explanation);
}

function chooseCause(id, moveFocus) {
  state.chosen = id;
  document.getElementById("cause").value = id;
  update().then(() => {
    if (moveFocus) document.getElementById("explanation-title").focus();
  });
}

async function start() {
  try {
    state.model = await call("/v1/model");
  } catch (error) {
    document.getElementById("groups").replaceChildren(el("p", { text: "The model could not be loaded." }));
    showError(String(error.message || error));
    return;
  }
  for (const node of state.model.nodes) state.nodes.set(node.id, node);
  indexLinks(state.model);
  document.getElementById("title").textContent = state.model.model.title;
  document.getElementById("model-version").textContent =
    `Model ${state.model.model.id}, version ${state.model.model.version}.`;
  buildForm(state.model);
  restoreFromFragment();
  document.getElementById("answers").addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("answers").addEventListener("change", () => {
    state.notice = "";
    update();
  });
  document.getElementById("clear").addEventListener("click", () => {
    for (const input of document.querySelectorAll("#groups input[value=unknown]")) input.checked = true;
    state.chosen = null;
    update();
  });
  document.getElementById("show-all").addEventListener("click", () => {
    state.showAll = !state.showAll;
    if (state.diagnosis) renderDifferential(state.diagnosis);
  });
  document.getElementById("cause").addEventListener("change", (event) => chooseCause(event.target.value, false));
  document.getElementById("copy").addEventListener("click", copyLink);
  // The skip link and the summary bar move to the results without touching the link's fragment.
  for (const link of document.querySelectorAll("a[href='#results']")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const results = document.getElementById("results");
      results.scrollIntoView();
      results.focus({ preventScroll: true });
    });
  }
  window.addEventListener("hashchange", () => {
    if (location.hash === fragmentOf(currentEvidence())) return;
    if (location.hash && !location.hash.includes("=")) return; // an anchor, not answers
    restoreFromFragment();
    update();
  });
  await update();
}

async function copyLink() {
  const status = document.getElementById("copied");
  const url = document.getElementById("share").href;
  try {
    await navigator.clipboard.writeText(url);
    status.textContent = "Copied.";
  } catch (error) {
    status.textContent = "Copy it from the link: this browser refused the clipboard.";
  }
}

start();
