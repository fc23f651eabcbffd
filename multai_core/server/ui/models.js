// The models this key may use, with the tasks their backends serve (GET /ui/api/models), and
// the <select>s grouped by task that each view picks from.
import { getJson } from "./api.js";
import { fillSelect } from "./dom.js";

const TASK_LABELS = {
  chat: "Chat",
  vision: "Vision",
  completion: "Completion",
  embedding: "Embeddings",
  transcription: "Speech to text",
  translation: "Speech translation",
  speech: "Text to speech",
  image: "Images",
};

let models = [];

export async function loadModels() {
  models = (await getJson("/ui/api/models")).data;
  return models;
}

export function servedTasks() {
  return new Set(models.flatMap((m) => m.tasks));
}

export function modelsFor(task) {
  return models.filter((m) => m.tasks.includes(task)).map((m) => m.id);
}

// Fill `select` with the models of `tasks`, one group per task; a model serving two of them
// sits in the first.
export function fillModelSelect(select, tasks) {
  const seen = new Set();
  const groups = [];
  for (const task of tasks) {
    const names = modelsFor(task).filter((name) => !seen.has(name));
    names.forEach((name) => seen.add(name));
    if (names.length) groups.push([TASK_LABELS[task] || task, names]);
  }
  fillSelect(select, groups);
  return seen.size;
}
