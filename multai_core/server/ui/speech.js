// Speech: transcribe or translate an uploaded or recorded file (asked once as verbose_json,
// shown as text, SRT, VTT or JSON), and text to speech with a voice picker and a player.
import { call, getJson, postJson } from "./api.js";
import { byId, el, say } from "./dom.js";
import { fillModelSelect, modelsFor } from "./models.js";

let recorded = null; // a Blob from the microphone, used when no file is chosen
let transcript = null;
let format = "text";

function stamp(seconds, separator) {
  const ms = Math.round(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export function asFormat(result, kind) {
  const segments = result.segments || [];
  if (kind === "text") return result.text.trim();
  if (kind === "verbose_json") return JSON.stringify(result, null, 2);
  const cues = segments.map((s, i) => {
    const times = `${stamp(s.start, kind === "srt" ? "," : ".")} --> ${stamp(s.end, kind === "srt" ? "," : ".")}`;
    return kind === "srt" ? `${i + 1}\n${times}\n${s.text.trim()}` : `${times}\n${s.text.trim()}`;
  });
  return kind === "srt" ? cues.join("\n\n") : `WEBVTT\n\n${cues.join("\n\n")}`;
}

function showTranscript() {
  for (const tab of byId("stt-formats").querySelectorAll("[role=tab]")) {
    const on = tab.dataset.format === format;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  byId("stt-output").textContent = transcript ? asFormat(transcript, format) : "";
  byId("stt-output").dataset.format = format;
}

async function transcribe(event) {
  event.preventDefault();
  const file = byId("stt-file").files[0] || (recorded && new File([recorded], "recording.webm", { type: recorded.type }));
  if (!file) return say("Choose an audio file or record one first.", "error");
  const form = new FormData();
  form.append("file", file);
  form.append("model", byId("stt-model").value);
  form.append("response_format", "verbose_json");
  const language = byId("stt-language").value.trim();
  if (language && byId("stt-task").value === "transcriptions") form.append("language", language);
  const button = byId("stt-submit");
  button.disabled = true;
  say("Transcribing…");
  try {
    const response = await call(`/v1/audio/${byId("stt-task").value}`, { method: "POST", body: form });
    transcript = await response.json();
    byId("stt-result").hidden = false;
    showTranscript();
    say(`Transcribed ${file.name}.`);
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

function setUpRecorder() {
  const button = byId("stt-record");
  if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) return;
  button.hidden = false;
  let recorder = null;
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
      recorder.addEventListener("stop", () => {
        stream.getTracks().forEach((t) => t.stop());
        recorded = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        recorder = null;
        byId("stt-file").value = "";
        byId("stt-recorded").textContent = `Recorded ${(recorded.size / 1024).toFixed(0)} KiB: Transcribe sends it.`;
        button.textContent = "Record";
        button.setAttribute("aria-pressed", "false");
      });
      recorder.start();
      button.textContent = "Stop recording";
      button.setAttribute("aria-pressed", "true");
      byId("stt-recorded").textContent = "Recording…";
    } catch (error) {
      say(`The microphone is not available: ${error.message}`, "error");
    }
  });
}

async function loadVoices() {
  const select = byId("tts-voice");
  const model = byId("tts-model").value;
  select.replaceChildren();
  if (!model) return;
  try {
    const voices = await getJson(`/v1/audio/voices?model=${encodeURIComponent(model)}`);
    const list = voices.data || voices.voices || [];
    for (const voice of list) {
      const id = typeof voice === "string" ? voice : voice.id || voice.name;
      const label = voice.language ? `${id} (${voice.language})` : id;
      select.append(el("option", { value: id, text: label }));
    }
  } catch (error) {
    say(`Could not list the voices: ${error.message}`, "error");
  }
}

async function speak(event) {
  event.preventDefault();
  const button = byId("tts-submit");
  button.disabled = true;
  say("Speaking…");
  try {
    const responseFormat = byId("tts-format").value;
    const response = await postJson("/v1/audio/speech", {
      model: byId("tts-model").value,
      voice: byId("tts-voice").value,
      input: byId("tts-input").value,
      response_format: responseFormat,
    });
    const url = URL.createObjectURL(await response.blob());
    const audio = byId("tts-audio");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = url;
    audio.hidden = false;
    const link = byId("tts-download");
    link.href = url;
    link.download = `speech.${responseFormat}`;
    link.hidden = false;
    say("Speech ready.");
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

export function setUpSpeech() {
  byId("stt-form").addEventListener("submit", transcribe);
  byId("tts-form").addEventListener("submit", speak);
  byId("tts-model").addEventListener("change", loadVoices);
  const tabs = [...byId("stt-formats").querySelectorAll("[role=tab]")];
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => {
      format = tab.dataset.format;
      showTranscript();
    });
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      next.click();
    });
  });
  showTranscript();
  setUpRecorder();
}

// Show the parts some model serves; true when any is shown.
export function refreshSpeechModels() {
  const stt = fillModelSelect(byId("stt-model"), ["transcription", "translation"]);
  byId("stt-form").hidden = !stt;
  const translations = modelsFor("translation").length > 0;
  byId("stt-task").querySelector("[value=translations]").hidden = !translations;
  const tts = fillModelSelect(byId("tts-model"), ["speech"]);
  byId("tts-form").hidden = !tts;
  if (tts) loadVoices();
  return stt + tts > 0;
}
