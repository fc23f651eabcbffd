// Vision: drop or choose an image, ask about it; the answer streams from chat completions
// with the image as a data URL.
import { postJson, sseData } from "./api.js";
import { byId, say } from "./dom.js";
import { render } from "./markdown.js";
import { fillModelSelect } from "./models.js";

let image = null; // File

function choose(file) {
  if (!file || !file.type.startsWith("image/")) return say("That is not an image.", "error");
  image = file;
  const preview = byId("vis-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
}

function dataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

async function ask(event) {
  event.preventDefault();
  if (!image) return say("Choose an image first.", "error");
  const button = byId("vis-submit");
  const answer = byId("vis-answer");
  button.disabled = true;
  answer.replaceChildren();
  let text = "";
  try {
    const response = await postJson("/v1/chat/completions", {
      model: byId("vis-model").value,
      stream: true,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: byId("vis-question").value },
            { type: "image_url", image_url: { url: await dataUrl(image) } },
          ],
        },
      ],
    });
    for await (const data of sseData(response)) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      text += chunk.choices?.[0]?.delta?.content || "";
      answer.replaceChildren(render(text));
    }
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

export function setUpVision() {
  const drop = byId("vis-drop");
  byId("vis-file").addEventListener("change", (e) => choose(e.target.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    choose(e.dataTransfer.files[0]);
  });
  byId("vis-form").addEventListener("submit", ask);
}

export function refreshVisionModels() {
  return fillModelSelect(byId("vis-model"), ["vision"]) > 0;
}
