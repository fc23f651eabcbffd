// The page's entry: views as tabs (the URL's #fragment names the view), the models this key
// may use, and the parts each view shows only when some model serves them.
import { refreshChatModels, setUpChat } from "./chat.js";
import { byId, say } from "./dom.js";
import { refreshImageModels, setUpImages } from "./images.js";
import { ensureKey, setUpKeyButton } from "./key.js";
import { loadModels } from "./models.js";
import { showOps, startOps } from "./ops.js";
import { refreshSpeechModels, setUpSpeech } from "./speech.js";
import { refreshVisionModels, setUpVision } from "./vision.js";

const tabs = () => [...byId("tabs").querySelectorAll("[role=tab]")].filter((t) => !t.hidden);

function show(view, { focus = false } = {}) {
  const available = tabs();
  const tab = available.find((t) => t.dataset.view === view) || available[0];
  for (const t of byId("tabs").querySelectorAll("[role=tab]")) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    byId(t.getAttribute("aria-controls")).hidden = !on;
  }
  if (focus) tab.focus();
  showOps(tab.dataset.view === "ops");
  // the fragment names the view shown; one not available yet (its models are still being
  // listed) stays in the URL until they are
  if (tab.dataset.view === view || !view) history.replaceState(null, "", `#${tab.dataset.view}`);
}

function setUpTabs() {
  byId("tabs").addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) show(tab.dataset.view);
  });
  byId("tabs").addEventListener("keydown", (event) => {
    const available = tabs();
    const at = available.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: available.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    show(available[(next + available.length) % available.length].dataset.view, { focus: true });
  });
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
}

async function refreshModels() {
  try {
    await loadModels();
  } catch (error) {
    say(`Could not list the models: ${error.message}`, "error");
    return false;
  }
  const chat = refreshChatModels();
  byId("tab-speech").hidden = !refreshSpeechModels();
  byId("tab-images").hidden = !refreshImageModels();
  byId("tab-vision").hidden = !refreshVisionModels();
  say(chat ? "" : "No chat model is available to this key.");
  document.body.dataset.ready = "true";
  show(location.hash.slice(1));
  return true;
}

async function start() {
  if (!(await ensureKey())) return say("No API key: use the API key button to enter one.", "error");
  if (await refreshModels()) startOps();
}

setUpTabs();
setUpChat();
setUpSpeech();
setUpImages();
setUpVision();
setUpKeyButton(start);
show(location.hash.slice(1));
start();
