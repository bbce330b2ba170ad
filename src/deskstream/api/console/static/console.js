// The console's only script: live parts and self-submitting selects. No library, nothing fetched from elsewhere.
//
// An element with data-live="URL" has its contents replaced by the HTML fragment at URL every data-every
// milliseconds (2 s by default), unless the page's #pause box is ticked or the tab is hidden. A fragment request
// that was redirected (the session ended: the sign-in form) reloads the page instead.
"use strict";

function live(element) {
  const every = Number(element.dataset.every || 2000);
  const tick = async () => {
    const pause = document.getElementById("pause");
    if (!(pause && pause.checked) && !document.hidden) {
      try {
        const answer = await fetch(element.dataset.live, {headers: {"Accept": "text/html"}, credentials: "same-origin"});
        if (answer.redirected) {
          window.location.reload();
          return;
        }
        if (answer.ok) {
          element.innerHTML = await answer.text();
          element.dataset.refreshed = String(Date.now());
        }
      } catch (error) {
        // The server is restarting or gone: try again at the next tick.
      }
    }
    window.setTimeout(tick, every);
  };
  window.setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(live);
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
