// The API key: asked for in a dialog when the server answers 401, kept in this tab's
// sessionStorage only (gone when the tab closes), never put in a URL.
const STORE = "multai.apiKey";
let pending = null;

export function currentKey() {
  return sessionStorage.getItem(STORE) || "";
}

export function forgetKey() {
  sessionStorage.removeItem(STORE);
}

// Resolves once the user has entered a key; rejects when they cancel. Calls made while the
// dialog is open share it.
export function askForKey(reason) {
  const dialog = document.getElementById("key-dialog");
  document.getElementById("key-reason").textContent = reason;
  if (pending) return pending;
  pending = new Promise((resolve, reject) => {
    const form = document.getElementById("key-form");
    const input = document.getElementById("key-input");
    const finish = (entered) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      document.getElementById("key-cancel").removeEventListener("click", onCancel);
      if (dialog.open) dialog.close();
      input.value = "";
      pending = null;
      if (entered) resolve();
      else reject(new Error("No API key was entered."));
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(STORE, key);
      finish(true);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    document.getElementById("key-cancel").addEventListener("click", onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
  return pending;
}

// Ask the server (GET /ui/api/key answers 200 either way) whether it takes the key this tab
// holds, none included; ask the user until it does. False when they cancel.
export async function ensureKey() {
  let reason = "This server needs an API key.";
  for (;;) {
    const key = currentKey();
    const headers = key ? { authorization: `Bearer ${key}` } : {};
    const check = await (await fetch("/ui/api/key", { headers, cache: "no-store" })).json();
    if (check.accepted) return true;
    if (key) reason = `The server refused this key: ${check.message}`;
    try {
      await askForKey(reason);
    } catch {
      return false;
    }
  }
}

export function setUpKeyButton(onChanged) {
  document.getElementById("key-button").addEventListener("click", () => {
    const reason = currentKey()
      ? "A key is set for this tab. Enter another to replace it."
      : "Enter the API key to use from this tab.";
    askForKey(reason).then(onChanged, () => {});
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    forgetKey();
    document.getElementById("key-reason").textContent = "The key is forgotten.";
  });
}
