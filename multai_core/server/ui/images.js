// Image generation: a prompt, a size and a count; the images (asked as b64_json, shown from
// blob: URLs) gather in a gallery, newest first.
import { postJson } from "./api.js";
import { byId, el, say } from "./dom.js";
import { fillModelSelect } from "./models.js";

function blobOf(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: "image/png" });
}

async function generate(event) {
  event.preventDefault();
  const prompt = byId("img-prompt").value.trim();
  const button = byId("img-submit");
  button.disabled = true;
  say("Generating…");
  try {
    const started = performance.now();
    const response = await postJson("/v1/images/generations", {
      model: byId("img-model").value,
      prompt,
      size: byId("img-size").value,
      n: Number.parseInt(byId("img-n").value, 10) || 1,
      response_format: "b64_json",
    });
    const result = await response.json();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const gallery = byId("img-gallery");
    for (const image of result.data) {
      const url = URL.createObjectURL(blobOf(image.b64_json));
      gallery.prepend(
        el(
          "li",
          {},
          el("figure", {}, el("img", { src: url, alt: prompt }), el("figcaption", {}, prompt, el("br"), el("a", { href: url, download: "image.png", text: "Download" }))),
        ),
      );
    }
    say(`Generated ${result.data.length} image(s) in ${seconds} s.`);
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

export function setUpImages() {
  byId("img-form").addEventListener("submit", generate);
}

export function refreshImageModels() {
  return fillModelSelect(byId("img-model"), ["image"]) > 0;
}
